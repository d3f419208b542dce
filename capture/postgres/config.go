package postgres

import (
	"fmt"
	"regexp"
	"time"

	"github.com/sluicehq/sluice/capture"
)

// Config configures a PostgreSQL source.
type Config struct {
	// DSN is a libpq URL or key=value string. It may hold a password: it is
	// never logged nor put in errors.
	DSN string
	// SlotName is the logical replication slot (pgoutput); created when
	// missing. Default "sluice".
	SlotName string
	// Publication is the publication to stream; created when missing.
	// Default "sluice".
	Publication string
	// AllTables creates the publication FOR ALL TABLES. Otherwise it is
	// created FOR TABLE the tables named by Tables, or matched by Include and
	// not Exclude, at creation time. An existing publication is used as is.
	AllTables bool
	// Tables lists "schema.table" names to capture.
	Tables []string
	// Include and Exclude are regular expressions matched against
	// "schema.table"; changes of tables they reject are dropped even when the
	// publication sends them. Empty Include matches everything.
	Include []string
	Exclude []string
	// TopicPrefix becomes Source.Name (Debezium's topic.prefix).
	TopicPrefix string
	// ProtoVersion is pgoutput's proto_version, 1 to 3. Default 1. Streaming
	// of in-progress transactions is never enabled, so every version
	// delivers whole transactions.
	ProtoVersion int
	// StatusInterval is how often the confirmed position is reported to the
	// server. Default 1s.
	StatusInterval time.Duration
	// HeartbeatInterval, when positive, emits a non-transactional logical
	// message (pg_logical_emit_message) this often, so that the slot keeps
	// advancing on an idle database. 0 disables it.
	HeartbeatInterval time.Duration
	// SkipTruncate drops TRUNCATE events (Debezium's default
	// skipped.operations=t); otherwise each truncated table yields an op "t"
	// change.
	SkipTruncate bool
	// MaxTxnChanges bounds how many changes of one source transaction are
	// held in memory: a larger transaction goes to capture.Run in Partial
	// batches of this size, written into one Kafka transaction that commits
	// with the last part. Default 10,000.
	MaxTxnChanges int
}

var slotNameRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.DSN == "" {
		return out, fmt.Errorf("postgres config: DSN is empty")
	}
	if out.SlotName == "" {
		out.SlotName = "sluice"
	}
	if !slotNameRE.MatchString(out.SlotName) {
		return out, fmt.Errorf("postgres config: slot name %q: want [a-z0-9_]{1,63}", out.SlotName)
	}
	if out.Publication == "" {
		out.Publication = "sluice"
	}
	if out.TopicPrefix == "" {
		return out, fmt.Errorf("postgres config: TopicPrefix is empty")
	}
	if out.ProtoVersion == 0 {
		out.ProtoVersion = 1
	}
	if out.ProtoVersion < 1 || out.ProtoVersion > 3 {
		return out, fmt.Errorf("postgres config: proto version %d: want 1 to 3", out.ProtoVersion)
	}
	if out.StatusInterval <= 0 {
		out.StatusInterval = time.Second
	}
	if out.MaxTxnChanges <= 0 {
		out.MaxTxnChanges = 10_000
	}
	return out, nil
}

// newTableFilter builds the capture core's table filter from c.
func newTableFilter(c Config) (*capture.TableFilter, error) {
	f, err := capture.NewTableFilter(c.Tables, c.Include, c.Exclude)
	if err != nil {
		return nil, fmt.Errorf("postgres config: %w", err)
	}
	return f, nil
}
