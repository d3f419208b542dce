package ingest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Defaults applied by Config when a field is zero.
const (
	DefaultTargetFileBytes    = 128 << 20
	DefaultMaxBufferBytes     = 256 << 20
	DefaultFetchMaxBytes      = 16 << 20
	DefaultMaxBatchAge        = 10 * time.Minute
	DefaultMaxDeadLetterRatio = 0.01
	DefaultReadTimeout        = 2 * time.Minute
	DefaultGroupID            = "sluice-ingest"
)

// What Config.OnOffsetReset accepts.
const (
	// OffsetResetFail stops the run with an *OffsetResetError when a
	// partition's recorded offset no longer fits the partition (topic
	// deleted and recreated, or records removed by retention before they
	// were ingested).
	OffsetResetFail = "fail"
	// OffsetResetRestart reads such a partition again from its log start
	// offset; its txn version then moves backwards (see OffsetResetError).
	OffsetResetRestart = "restart"
)

// KafkaAuth holds the connection security settings. Its String and LogValue
// never show the password.
type KafkaAuth struct {
	// TLS enables TLS when non-nil.
	TLS *tls.Config
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
}

// String describes the settings without secrets.
func (a KafkaAuth) String() string {
	return fmt.Sprintf("tls=%t sasl=%q user=%q", a.TLS != nil, a.SASLMechanism, a.SASLUser)
}

// LogValue implements slog.LogValuer without secrets.
func (a KafkaAuth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// GoString keeps %#v from printing the password.
func (a KafkaAuth) GoString() string { return "ingest.KafkaAuth{" + a.String() + "}" }

func (a KafkaAuth) opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if a.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(a.TLS.Clone()))
	}
	switch strings.ToUpper(a.SASLMechanism) {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: a.SASLUser, Pass: a.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: a.SASLUser, Pass: a.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: a.SASLUser, Pass: a.SASLPassword}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka sasl mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", a.SASLMechanism)
	}
	return opts, nil
}

// Config configures Plan and Run. The zero value of every optional field
// selects its default.
type Config struct {
	Brokers []string
	Kafka   KafkaAuth

	// TopicRegex selects the topics to ingest (anchored: it must match the
	// whole name). ExcludeRegex, when set, removes topics from that set.
	TopicRegex   string
	ExcludeRegex string
	// IncludeHeartbeats also ingests Debezium heartbeat topics
	// (__debezium-heartbeat.*) and transaction-metadata topics
	// (<prefix>.transaction), which are skipped by default even when TopicRegex
	// matches them.
	IncludeHeartbeats bool

	// GroupID receives the committed offsets after each lake commit, for
	// lag tools only (DefaultGroupID when empty). Ingest never reads it.
	GroupID string

	// Worker and Workers split the partitions between processes: this
	// process reads the partitions whose hash of (topic, partition) modulo
	// Workers is Worker. Workers 0 or 1 reads everything.
	Worker, Workers int

	// TargetFileBytes is the data file size aimed at (DefaultTargetFileBytes).
	TargetFileBytes int64
	// MaxBufferBytes bounds the memory of the data files being built: the
	// open files' current row groups (the files themselves are built in
	// TempDir) plus copies of rows of quiet topics not encoded yet
	// (DefaultMaxBufferBytes). Past it pending rows are packed, row groups
	// flushed early, and at last the largest files finished before
	// reaching TargetFileBytes. The process holds about MaxBufferBytes +
	// 2 × FetchMaxBytes × brokers of live data, plus the file being
	// uploaded (docs/operations.md, "Ingest memory").
	MaxBufferBytes int64
	// FetchMaxBytes caps one Kafka fetch response (DefaultFetchMaxBytes;
	// a partition's share is at most 4 MiB). franz-go buffers one
	// response per broker while the previous one is processed.
	FetchMaxBytes int64
	// TempDir is where data files are built while they are written, each
	// in an unlinked temporary file, so that open files hold only their
	// current row group in memory (os.TempDir() when empty; about
	// TargetFileBytes per busy topic of disk).
	TempDir string
	// MaxBatchAge ends a microbatch (files written, one commit) after this
	// long even if the run's end offsets are not reached yet
	// (DefaultMaxBatchAge). A run can therefore make several commits.
	MaxBatchAge time.Duration
	// MaxRecordsPerRun caps the offsets planned per run (0: no cap).
	MaxRecordsPerRun int64

	// DeadLetterTable is where the dead-letter table lives; ingest itself
	// receives the opened table (Run's deadLetters) and only reports it.
	DeadLetterTable string
	// MaxDeadLetterRatio fails the run with ErrDeadLetterRatio when more
	// than this fraction of the run's records are dead letters
	// (DefaultMaxDeadLetterRatio; 1 never fails, a negative value allows
	// none).
	MaxDeadLetterRatio float64

	// OnOffsetReset is OffsetResetFail (default) or OffsetResetRestart.
	OnOffsetReset string

	// ReadTimeout fails the run when no record arrives for this long
	// while offsets below the planned end are still missing
	// (DefaultReadTimeout).
	ReadTimeout time.Duration

	// Now is the clock, for tests (time.Now when nil).
	Now func() time.Time
}

// resolved is a validated Config with defaults applied.
type resolved struct {
	Config
	topics, exclude *regexp.Regexp
}

func (c Config) resolve() (*resolved, error) {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: none given"))
	}
	r := &resolved{Config: c}
	var err error
	if c.TopicRegex == "" {
		errs = append(errs, errors.New("topic regex: empty"))
	} else if r.topics, err = regexp.Compile("^(?:" + c.TopicRegex + ")$"); err != nil {
		errs = append(errs, fmt.Errorf("topic regex: %w", err))
	}
	if c.ExcludeRegex != "" {
		if r.exclude, err = regexp.Compile("^(?:" + c.ExcludeRegex + ")$"); err != nil {
			errs = append(errs, fmt.Errorf("exclude regex: %w", err))
		}
	}
	if c.Workers < 0 || (c.Workers > 0 && (c.Worker < 0 || c.Worker >= c.Workers)) || (c.Workers == 0 && c.Worker != 0) {
		errs = append(errs, fmt.Errorf("worker %d of %d: want 0 <= worker < workers", c.Worker, c.Workers))
	}
	if c.TargetFileBytes < 0 || c.MaxBufferBytes < 0 || c.MaxBatchAge < 0 || c.MaxRecordsPerRun < 0 || c.ReadTimeout < 0 || c.FetchMaxBytes < 0 {
		errs = append(errs, errors.New("sizes, ages and timeouts must not be negative"))
	}
	if c.FetchMaxBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("fetch max bytes %d: want at most 1 GiB", c.FetchMaxBytes))
	}
	if c.MaxDeadLetterRatio > 1 {
		errs = append(errs, fmt.Errorf("max dead-letter ratio %v: want at most 1", c.MaxDeadLetterRatio))
	}
	switch c.OnOffsetReset {
	case "":
		r.OnOffsetReset = OffsetResetFail
	case OffsetResetFail, OffsetResetRestart:
	default:
		errs = append(errs, fmt.Errorf("on offset reset %q: want %q or %q", c.OnOffsetReset, OffsetResetFail, OffsetResetRestart))
	}
	if _, err := c.Kafka.opts(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ingest config: %w", errors.Join(errs...))
	}
	if r.GroupID == "" {
		r.GroupID = DefaultGroupID
	}
	if r.Workers == 0 {
		r.Workers = 1
	}
	if r.TargetFileBytes == 0 {
		r.TargetFileBytes = DefaultTargetFileBytes
	}
	if r.MaxBufferBytes == 0 {
		r.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if r.FetchMaxBytes == 0 {
		r.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if r.TempDir == "" {
		r.TempDir = os.TempDir()
	}
	if r.MaxBatchAge == 0 {
		r.MaxBatchAge = DefaultMaxBatchAge
	}
	if r.MaxDeadLetterRatio == 0 {
		r.MaxDeadLetterRatio = DefaultMaxDeadLetterRatio
	}
	if r.ReadTimeout == 0 {
		r.ReadTimeout = DefaultReadTimeout
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r, nil
}

// wantsTopic reports whether the topic is ingested by this configuration.
func (r *resolved) wantsTopic(topic string) bool {
	if !r.topics.MatchString(topic) || (r.exclude != nil && r.exclude.MatchString(topic)) {
		return false
	}
	if !r.IncludeHeartbeats && isDebeziumMetaTopic(topic) {
		return false
	}
	return true
}

// isDebeziumMetaTopic reports Debezium's heartbeat topics
// (heartbeat.topics.prefix default "__debezium-heartbeat") and transaction
// metadata topics (topic.transaction default "<prefix>.transaction"): they
// carry no row changes. A table named "transaction" has a three-part topic
// (<prefix>.<db>.transaction) and is not skipped.
func isDebeziumMetaTopic(topic string) bool {
	if strings.HasPrefix(topic, "__debezium-heartbeat") {
		return true
	}
	return strings.HasSuffix(topic, ".transaction") && strings.Count(topic, ".") == 1
}

// ownsPartition is the deterministic split between Workers processes: FNV-1a
// of the topic and partition, modulo Workers.
func (r *resolved) ownsPartition(topic string, partition int32) bool {
	if r.Workers <= 1 {
		return true
	}
	h := uint32(2166136261)
	for i := 0; i < len(topic); i++ {
		h ^= uint32(topic[i])
		h *= 16777619
	}
	for i := 0; i < 4; i++ {
		h ^= uint32(byte(partition >> (8 * i)))
		h *= 16777619
	}
	return int(h%uint32(r.Workers)) == r.Worker
}

func (r *resolved) clientOpts() []kgo.Opt {
	auth, _ := r.Kafka.opts() // validated in resolve
	return append([]kgo.Opt{kgo.SeedBrokers(r.Brokers...)}, auth...)
}
