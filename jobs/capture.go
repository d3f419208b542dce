package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/mysql"
	"github.com/sluicehq/sluice/capture/postgres"
)

// maxCaptureBackoff bounds the wait between restarts of a failing capture.
const maxCaptureBackoff = 30 * time.Second

// Capture runs the capture of one source of cfg (sourceName may be empty
// when cfg has exactly one source) into Kafka until ctx is cancelled, which
// is a clean stop (nil). Transient failures restart the source with backoff;
// a lost source position returns an error wrapping capture.ErrPositionLost
// (ExitNeedsAction: backfill the affected tables). stats, when not nil, is
// updated as capture commits (see capture.Stats; Metrics.ObserveCapture
// exports it).
func Capture(ctx context.Context, cfg *Config, sourceName string, stats *capture.Stats, logger *slog.Logger) error {
	src, err := pickSource(cfg, sourceName)
	if err != nil {
		return err
	}
	if len(cfg.Kafka.Brokers) == 0 {
		return UsageError(&FieldError{"kafka.brokers", "required for capture"})
	}
	kc, err := captureKafka(cfg.Kafka)
	if err != nil {
		return err
	}
	open, err := sourceOpener(src, logger)
	if err != nil {
		return err
	}
	ccfg := capture.Config{
		Kafka:       kc,
		SourceName:  src.Name,
		TopicPrefix: src.TopicPrefix,
		// Debezium's JsonConverter default; ingest and merge read both forms,
		// and the schema carries exact types (decimals, times) to the merge.
		WithSchema:       true,
		AutoCreateTopics: true,
		Stats:            stats,
	}
	logger.Info("capture configured", "source", src.Name, "type", src.Type, "topic_prefix", src.TopicPrefix, "kafka", kc)
	err = capture.RunWithRestarts(ctx, open, ccfg, maxCaptureBackoff, logger)
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		logger.Info("capture stopped", "source", src.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("capture %s: %w", src.Name, err)
	}
	return nil
}

// pickSource returns the named source, or the only one.
func pickSource(cfg *Config, name string) (*SourceConfig, error) {
	if name == "" {
		switch len(cfg.Sources) {
		case 0:
			return nil, UsageError(&FieldError{"sources", "no source configured"})
		case 1:
			return &cfg.Sources[0], nil
		default:
			return nil, UsageError(fmt.Errorf("the config has %d sources: choose one with --source", len(cfg.Sources)))
		}
	}
	for i := range cfg.Sources {
		if cfg.Sources[i].Name == name {
			return &cfg.Sources[i], nil
		}
	}
	return nil, UsageError(fmt.Errorf("no source named %q in the config", name))
}

// sourceOpener returns how RunWithRestarts makes a fresh capture.Source.
func sourceOpener(src *SourceConfig, logger *slog.Logger) (func(context.Context) (capture.Source, error), error) {
	switch src.Type {
	case "postgres":
		pc := postgres.Config{
			DSN:         src.DSN.Reveal(),
			SlotName:    src.Slot,
			Publication: src.Publication,
			AllTables:   len(src.Include) == 0,
			Include:     src.Include,
			Exclude:     src.Exclude,
			TopicPrefix: src.TopicPrefix,
			// Keepalives advance the slot anyway; this also writes WAL.
			HeartbeatInterval: src.heartbeat(),
		}
		return func(ctx context.Context) (capture.Source, error) {
			s, err := postgres.New(ctx, pc, logger)
			if err != nil {
				return nil, err
			}
			return s, nil
		}, nil
	case "mysql", "mariadb":
		pw, err := secretValue(src.Password, src.PasswordFile, "sources."+src.Name+".password")
		if err != nil {
			return nil, err
		}
		flavor := mysql.FlavorMySQL
		if src.Type == "mariadb" {
			flavor = mysql.FlavorMariaDB
		}
		mc := mysql.Config{
			Addr:        src.Addr,
			User:        src.User,
			Password:    pw,
			ServerID:    src.ServerID,
			Flavor:      flavor,
			Include:     src.Include,
			Exclude:     src.Exclude,
			TopicPrefix: src.TopicPrefix,
			// Stores the position reached through other databases' commits
			// and sets the server's heartbeat period (source_heartbeat.go).
			HeartbeatInterval: src.heartbeat(),
		}
		return func(ctx context.Context) (capture.Source, error) {
			s, err := mysql.New(ctx, mc, logger)
			if err != nil {
				return nil, err
			}
			return s, nil
		}, nil
	}
	return nil, UsageError(&FieldError{"sources." + src.Name + ".type", fmt.Sprintf("unknown source type %q", src.Type)})
}
