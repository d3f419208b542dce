package jobs

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// Config is sluice.yaml. Every field is documented in docs/config.md; keep
// the two in step. Secrets (passwords, keys) are given as ${ENV} references
// or *_file paths and never printed: Config.Redacted returns a copy safe to
// show.
type Config struct {
	// Warehouse is where the lake lives: a local directory, file:///dir or
	// s3://bucket/prefix.
	Warehouse string         `yaml:"warehouse"`
	S3        S3Config       `yaml:"s3"`
	Kafka     KafkaConfig    `yaml:"kafka"`
	Raw       RawConfig      `yaml:"raw"`
	Ingest    IngestConfig   `yaml:"ingest"`
	Merge     MergeConfig    `yaml:"merge"`
	Snapshot  SnapshotConfig `yaml:"snapshot"`
	Sources   []SourceConfig `yaml:"sources"`
	Log       LogConfig      `yaml:"log"`
	Schedule  ScheduleConfig `yaml:"schedule"`
}

// S3Config configures s3:// warehouses. Credentials default to the AWS
// default chain (env, shared config, instance role).
type S3Config struct {
	Endpoint            string `yaml:"endpoint"`
	Region              string `yaml:"region"`
	PathStyle           bool   `yaml:"path_style"`
	AccessKeyID         string `yaml:"access_key_id"`
	SecretAccessKey     Secret `yaml:"secret_access_key"`
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
}

// KafkaConfig addresses the Kafka cluster (or Redpanda, or kfake).
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"`
	TLS     struct {
		Enabled            bool   `yaml:"enabled"`
		CAFile             string `yaml:"ca_file"`
		CertFile           string `yaml:"cert_file"`
		KeyFile            string `yaml:"key_file"`
		InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	} `yaml:"tls"`
	SASL struct {
		Mechanism    string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
		Username     string `yaml:"username"`
		Password     Secret `yaml:"password"`
		PasswordFile string `yaml:"password_file"`
	} `yaml:"sasl"`
}

// RawConfig locates the raw table and its dead-letter table, relative to the
// warehouse unless absolute URLs.
type RawConfig struct {
	Table           string `yaml:"table"`
	DeadLetterTable string `yaml:"dead_letter_table"`
}

// IngestConfig configures `sluice ingest`.
type IngestConfig struct {
	Topics             string        `yaml:"topics"`
	Exclude            string        `yaml:"exclude"`
	GroupID            string        `yaml:"group_id"`
	TargetFileMB       int           `yaml:"target_file_mb"`
	MaxBatchAge        time.Duration `yaml:"max_batch_age"`
	MaxDeadLetterRatio float64       `yaml:"max_dead_letter_ratio"`
	OnOffsetReset      string        `yaml:"on_offset_reset"` // fail | restart
	IncludeHeartbeats  bool          `yaml:"include_heartbeats"`
	MaxBufferMB        int           `yaml:"max_buffer_mb"` // ingest.Config.MaxBufferBytes
	FetchMaxMB         int           `yaml:"fetch_max_mb"`  // ingest.Config.FetchMaxBytes
	Worker             int           `yaml:"worker"`        // this process's share of Workers
	Workers            int           `yaml:"workers"`
}

// MergeConfig configures `sluice merge`.
type MergeConfig struct {
	// TablesRoot is where SCD1 tables go, relative to the warehouse:
	// <tables_root>/<db>/<table>. Default "tables".
	TablesRoot string `yaml:"tables_root"`
	// DeleteMode is "hard" (default) or "soft" (_sluice_deleted).
	DeleteMode string `yaml:"delete_mode"`
	// TombstoneRetention is how long deleted keys are remembered so a late,
	// older event cannot resurrect them. Default 7 days.
	TombstoneRetention time.Duration `yaml:"tombstone_retention"`
	// TargetFileRows caps the rows of one SCD1 data file; 0 means merge's
	// default (10000).
	TargetFileRows int `yaml:"target_file_rows"`
	// MaxPassMB bounds the raw data files one merge pass reads; a larger
	// backlog is merged in passes. 0 means merge's default (64).
	MaxPassMB int          `yaml:"max_pass_mb"`
	Tables    []MergeTable `yaml:"tables"`
}

// MergeTable overrides the defaults for one source table.
type MergeTable struct {
	Source     string   `yaml:"source"` // db.schema.table or db.table
	Location   string   `yaml:"location"`
	DeleteMode string   `yaml:"delete_mode"`
	Key        []string `yaml:"key"`
	// DeletionVectors: mark changed rows deleted with Delta deletion
	// vectors instead of rewriting their files (protocol 3,7).
	DeletionVectors bool `yaml:"deletion_vectors"`
}

// SourceConfig is one database to capture.
type SourceConfig struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"` // postgres | mysql | mariadb
	TopicPrefix string   `yaml:"topic_prefix"`
	Include     []string `yaml:"include"`
	Exclude     []string `yaml:"exclude"`
	// PostgreSQL
	DSN         Secret `yaml:"dsn"`
	Slot        string `yaml:"slot"`
	Publication string `yaml:"publication"`
	// MySQL/MariaDB
	Addr         string `yaml:"addr"`
	User         string `yaml:"user"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	ServerID     uint32 `yaml:"server_id"`
	// HeartbeatInterval keeps the stored position moving on an idle source
	// (source_heartbeat.go); nil means the type's default, 0 off.
	HeartbeatInterval *time.Duration `yaml:"heartbeat_interval"`
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format"` // text | json
	Level  string `yaml:"level"`  // debug | info | warn | error
}

// Secret is a string that never prints itself.
type Secret string

// String implements fmt.Stringer with a redacted form.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// GoString implements fmt.GoStringer so %#v does not leak either.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalYAML keeps secrets out of printed configs.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON keeps secrets out of JSON reports.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Reveal returns the secret's value, for the one place that hands it to a
// client library.
func (s Secret) Reveal() string { return string(s) }

// FieldError names the config field that is wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// LoadConfig reads, expands and validates a config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, UsageError(fmt.Errorf("config: %w", err))
	}
	cfg, err := ParseConfig(data, os.LookupEnv)
	if err != nil {
		return nil, UsageError(fmt.Errorf("config %s: %w", path, err))
	}
	return cfg, nil
}

// ParseConfig parses YAML config text, expanding ${ENV} references in
// values (not comments) with lookup, applies defaults and validates.
func ParseConfig(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var cfg Config
	if err := decodeConfig(data, lookup, &cfg); err != nil { // config_decode.go
		return nil, err
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) applyDefaults() {
	if c.Raw.Table == "" {
		c.Raw.Table = "raw/cdc"
	}
	if c.Raw.DeadLetterTable == "" {
		c.Raw.DeadLetterTable = "raw/dead_letters"
	}
	if c.Ingest.Topics == "" {
		c.Ingest.Topics = `^sluice\..*`
	}
	if c.Ingest.GroupID == "" {
		c.Ingest.GroupID = "sluice-ingest"
	}
	if c.Ingest.TargetFileMB == 0 {
		c.Ingest.TargetFileMB = 128
	}
	if c.Ingest.MaxBatchAge == 0 {
		c.Ingest.MaxBatchAge = 5 * time.Minute
	}
	if c.Ingest.OnOffsetReset == "" {
		c.Ingest.OnOffsetReset = "fail"
	}
	if c.Ingest.MaxBufferMB == 0 {
		c.Ingest.MaxBufferMB = 256
	}
	if c.Ingest.FetchMaxMB == 0 {
		c.Ingest.FetchMaxMB = 16
	}
	if c.Merge.TablesRoot == "" {
		c.Merge.TablesRoot = "tables"
	}
	if c.Merge.DeleteMode == "" {
		c.Merge.DeleteMode = "hard"
	}
	if c.Merge.TombstoneRetention == 0 {
		c.Merge.TombstoneRetention = 7 * 24 * time.Hour
	}
	c.Snapshot.applyDefaults(c.Ingest.TargetFileMB)
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	c.Schedule.applyDefaults()
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.TopicPrefix == "" {
			s.TopicPrefix = "sluice"
		}
		s.applyHeartbeatDefault() // source_heartbeat.go
		if s.Type == "postgres" {
			if s.Slot == "" {
				s.Slot = "sluice_" + s.Name
			}
			if s.Publication == "" {
				s.Publication = "sluice_" + s.Name
			}
		}
	}
}

// Validate checks the config and returns the first problem as a
// *FieldError naming the field.
func (c *Config) Validate() error {
	if c.Warehouse == "" {
		return &FieldError{"warehouse", "required: a local directory or s3://bucket/prefix"}
	}
	for _, re := range []struct{ field, val string }{{"ingest.topics", c.Ingest.Topics}, {"ingest.exclude", c.Ingest.Exclude}} {
		if _, err := regexp.Compile(re.val); err != nil {
			return &FieldError{re.field, "invalid regular expression: " + err.Error()}
		}
	}
	if c.Ingest.TargetFileMB < 0 {
		return &FieldError{"ingest.target_file_mb", "must be positive"}
	}
	if c.Ingest.MaxBufferMB < 0 {
		return &FieldError{"ingest.max_buffer_mb", "must be positive"}
	}
	if m := c.Ingest.FetchMaxMB; m < 0 || m > 1024 {
		return &FieldError{"ingest.fetch_max_mb", fmt.Sprintf("must be between 1 and 1024, got %d", m)}
	}
	if w, n := c.Ingest.Worker, c.Ingest.Workers; n < 0 || w < 0 || (n > 0 && w >= n) || (n == 0 && w != 0) {
		return &FieldError{"ingest.worker", fmt.Sprintf("worker %d of %d workers: want 0 <= worker < workers", w, n)}
	}
	if r := c.Ingest.MaxDeadLetterRatio; r < 0 || r > 1 {
		return &FieldError{"ingest.max_dead_letter_ratio", fmt.Sprintf("must be between 0 and 1, got %v", r)}
	}
	switch c.Ingest.OnOffsetReset {
	case "fail", "restart":
	default:
		return &FieldError{"ingest.on_offset_reset", fmt.Sprintf("must be fail or restart, got %q", c.Ingest.OnOffsetReset)}
	}
	if c.Merge.MaxPassMB < 0 {
		return &FieldError{"merge.max_pass_mb", fmt.Sprintf("must be positive, got %d", c.Merge.MaxPassMB)}
	}
	if c.Merge.TargetFileRows < 0 {
		return &FieldError{"merge.target_file_rows", fmt.Sprintf("must be positive, got %d", c.Merge.TargetFileRows)}
	}
	switch c.Merge.DeleteMode {
	case "hard", "soft":
	default:
		return &FieldError{"merge.delete_mode", fmt.Sprintf("must be hard or soft, got %q", c.Merge.DeleteMode)}
	}
	for i, t := range c.Merge.Tables {
		f := fmt.Sprintf("merge.tables[%d]", i)
		if t.Source == "" {
			return &FieldError{f + ".source", "required (db.table or db.schema.table)"}
		}
		if t.DeleteMode != "" && t.DeleteMode != "hard" && t.DeleteMode != "soft" {
			return &FieldError{f + ".delete_mode", fmt.Sprintf("must be hard or soft, got %q", t.DeleteMode)}
		}
	}
	switch c.Kafka.SASL.Mechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return &FieldError{"kafka.sasl.mechanism", fmt.Sprintf("must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", c.Kafka.SASL.Mechanism)}
	}
	for i, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			return &FieldError{fmt.Sprintf("kafka.brokers[%d]", i), fmt.Sprintf("%q is not host:port", b)}
		}
	}
	if err := c.Snapshot.validate(); err != nil {
		return err
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return &FieldError{"log.format", fmt.Sprintf("must be text or json, got %q", c.Log.Format)}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &FieldError{"log.level", fmt.Sprintf("must be debug, info, warn or error, got %q", c.Log.Level)}
	}
	if err := c.Schedule.validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, s := range c.Sources {
		f := fmt.Sprintf("sources[%d]", i)
		if s.Name == "" {
			return &FieldError{f + ".name", "required"}
		}
		if names[s.Name] {
			return &FieldError{f + ".name", fmt.Sprintf("duplicate source name %q", s.Name)}
		}
		names[s.Name] = true
		switch s.Type {
		case "postgres":
			if s.DSN == "" {
				return &FieldError{f + ".dsn", "required for a postgres source"}
			}
		case "mysql", "mariadb":
			if s.Addr == "" {
				return &FieldError{f + ".addr", "required for a " + s.Type + " source (host:port)"}
			}
			if s.User == "" {
				return &FieldError{f + ".user", "required for a " + s.Type + " source"}
			}
			if s.ServerID == 0 {
				return &FieldError{f + ".server_id", "required: a replica server id unique in the replication topology"}
			}
		case "":
			return &FieldError{f + ".type", "required: postgres, mysql or mariadb"}
		default:
			return &FieldError{f + ".type", fmt.Sprintf("must be postgres, mysql or mariadb, got %q", s.Type)}
		}
		if s.HeartbeatInterval != nil && *s.HeartbeatInterval < 0 {
			return &FieldError{f + ".heartbeat_interval", "must not be negative (0 turns it off)"}
		}
		for j, re := range append(append([]string{}, s.Include...), s.Exclude...) {
			if _, err := regexp.Compile(re); err != nil {
				return &FieldError{fmt.Sprintf("%s.include/exclude[%d]", f, j), "invalid regular expression: " + err.Error()}
			}
		}
	}
	return nil
}
