package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Check is one line of `sluice validate`: what was checked and the outcome.
type Check struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Skip  bool   `json:"skipped,omitempty"`
	Error string `json:"error,omitempty"`
}

// validateTimeout bounds each reachability check.
const validateTimeout = 15 * time.Second

// ValidateConfig tries to reach what cfg names: the warehouse (a listing),
// Kafka (a metadata request) and every source (a connection and its
// replication prerequisites). It changes nothing anywhere. The config itself
// was validated by LoadConfig. The error is non-nil when a check failed.
//
// TODO(validate --table): comparing a source table with its SCD1 table by
// key ranges, and --repair, come with backfill.
func ValidateConfig(ctx context.Context, cfg *Config, logger *slog.Logger) ([]Check, error) {
	secrets := cfg.Secrets()
	var checks []Check
	failed := 0
	add := func(name string, err error) {
		c := Check{Name: name, OK: err == nil}
		if err != nil {
			c.Error = RedactError(err, secrets).Error()
			failed++
		}
		checks = append(checks, c)
	}
	add("config", nil)

	add("warehouse "+cfg.Warehouse, func() error {
		ctx, cancel := context.WithTimeout(ctx, validateTimeout)
		defer cancel()
		lk, err := openLake(ctx, cfg, logger)
		if err != nil {
			return err
		}
		for _, err := range lk.warehouse.List(ctx, "") {
			if err != nil {
				return fmt.Errorf("list: %w", err)
			}
			break
		}
		return nil
	}())

	if len(cfg.Kafka.Brokers) == 0 {
		checks = append(checks, Check{Name: "kafka", Skip: true, OK: true, Error: "no kafka.brokers configured"})
	} else {
		add(fmt.Sprintf("kafka %v", cfg.Kafka.Brokers), pingKafka(ctx, cfg))
	}
	for _, s := range cfg.Sources {
		add(fmt.Sprintf("source %s (%s)", s.Name, s.Type), checkSource(ctx, &s, logger))
	}
	if failed > 0 {
		return checks, fmt.Errorf("%d of %d checks failed", failed, len(checks))
	}
	return checks, nil
}

// pingKafka connects to the brokers and asks for metadata.
func pingKafka(ctx context.Context, cfg *Config) error {
	opts, err := kafkaClientOpts(cfg)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	return cl.Ping(ctx)
}

// kafkaClientOpts are the options of a short-lived client for checks
// (validate, status): the brokers, TLS and SASL of the config, one retry.
func kafkaClientOpts(cfg *Config) ([]kgo.Opt, error) {
	auth, err := ingestKafka(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.RequestRetries(1)}
	if auth.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(auth.TLS))
	}
	switch auth.SASLMechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: auth.SASLUser, Pass: auth.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: auth.SASLUser, Pass: auth.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: auth.SASLUser, Pass: auth.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// checkSource connects to a source without changing it: for PostgreSQL a
// plain connection and wal_level; for MySQL/MariaDB capture/mysql's own
// checks (row-based binlog).
func checkSource(ctx context.Context, s *SourceConfig, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	switch s.Type {
	case "postgres":
		conn, err := pgconn.Connect(ctx, s.DSN.Reveal())
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer conn.Close(context.Background())
		res, err := conn.Exec(ctx, "SHOW wal_level").ReadAll()
		if err != nil {
			return fmt.Errorf("show wal_level: %w", err)
		}
		if len(res) == 1 && len(res[0].Rows) == 1 {
			if lvl := string(res[0].Rows[0][0]); lvl != "logical" {
				return fmt.Errorf("wal_level is %q: logical replication needs wal_level = logical", lvl)
			}
		}
		return nil
	case "mysql", "mariadb":
		open, err := sourceOpener(s, logger)
		if err != nil {
			return err
		}
		src, err := open(ctx)
		if err != nil {
			return err
		}
		return src.Close()
	}
	return fmt.Errorf("unknown source type %q", s.Type)
}

// WriteChecks prints one line per check.
func WriteChecks(w io.Writer, checks []Check) {
	for _, c := range checks {
		switch {
		case c.Skip:
			fmt.Fprintf(w, "skip  %s: %s\n", c.Name, c.Error)
		case c.OK:
			fmt.Fprintf(w, "ok    %s\n", c.Name)
		default:
			fmt.Fprintf(w, "FAIL  %s: %s\n", c.Name, c.Error)
		}
	}
}
