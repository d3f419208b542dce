package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/merge"
)

// IngestOptions are the command-line overrides of `sluice ingest`.
type IngestOptions struct {
	// PlanOnly reports what a run would read and writes nothing.
	PlanOnly bool
	// Continuous runs again every Interval until ctx is cancelled.
	Continuous bool
	Interval   time.Duration
	// MaxDeadLetterRatio overrides ingest.max_dead_letter_ratio when set.
	MaxDeadLetterRatio *float64
	// OnReport sees each report of a continuous run.
	OnReport func(*ingest.Report)
}

// Ingest runs one ingest (Kafka → raw table) as a job. The returned report
// is never nil and holds the outcome, exit code and what was committed,
// also on failure; the error is the job's error, for the exit code.
func Ingest(ctx context.Context, cfg *Config, opts IngestOptions, logger *slog.Logger) (*Report, error) {
	rep := &Report{Job: "ingest", StartedAt: time.Now()}
	err := runIngest(ctx, cfg, opts, rep, logger)
	rep.finish(err, cfg.Secrets())
	return rep, err
}

func runIngest(ctx context.Context, cfg *Config, opts IngestOptions, rep *Report, logger *slog.Logger) error {
	ic, err := ingestConfig(cfg)
	if err != nil {
		return err
	}
	if opts.MaxDeadLetterRatio != nil {
		ic.MaxDeadLetterRatio = *opts.MaxDeadLetterRatio
	}
	lk, err := openLake(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if opts.PlanOnly {
		p, err := ingest.Plan(ctx, ic, lk.raw, logger)
		rep.Plan = p
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		return nil
	}
	if opts.Continuous {
		interval := opts.Interval
		if interval <= 0 {
			interval = time.Minute
		}
		err := ingest.RunContinuous(ctx, ic, lk.raw, lk.deadLetters, logger, interval, func(r *ingest.Report) {
			rep.Ingest = r
			if opts.OnReport != nil {
				opts.OnReport(r)
			}
		})
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil // a clean stop
		}
		return err
	}
	r, err := ingest.Run(ctx, ic, lk.raw, lk.deadLetters, logger)
	rep.Ingest = r
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// Merge runs one merge (raw table → SCD1 tables) as a job; tables restricts
// it to those source tables (db.table or db.schema.table), empty for all.
func Merge(ctx context.Context, cfg *Config, tables []string, logger *slog.Logger) (*Report, error) {
	rep := &Report{Job: "merge", StartedAt: time.Now()}
	err := runMerge(ctx, cfg, tables, rep, logger)
	rep.finish(err, cfg.Secrets())
	return rep, err
}

func runMerge(ctx context.Context, cfg *Config, tables []string, rep *Report, logger *slog.Logger) error {
	lk, err := openLake(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if _, err := lk.raw.Snapshot(ctx); errors.Is(err, lakelog.ErrNoTable) {
		// Nothing ingested yet: nothing to merge, which is not a failure.
		logger.Info("merge: the raw table does not exist yet; nothing to merge", "raw", cfg.Raw.Table)
		return nil
	}
	mc := mergeConfig(cfg, tables)
	hb := &holdBack{rawStore: lk.raw.Store(), logger: logger, now: time.Now}
	mc.HoldBack = hb.tables // tables whose snapshot is in progress wait (holdback.go)
	r, err := merge.Run(ctx, lk.raw, lk.warehouse, mc, logger)
	rep.Merge = newMergeReport(r)
	if rep.Merge != nil {
		rep.Merge.HeldBack = hb.held
	}
	return err // merge's errors already say "merge: …"
}

// RunOnce is one cron tick: ingest, then merge, with one combined report.
// A failed ingest still merges what the raw table already holds, so the
// SCD1 tables stay as fresh as they can be; the job then reports the first
// error (ingest's).
func RunOnce(ctx context.Context, cfg *Config, logger *slog.Logger) (*Report, error) {
	rep := &Report{Job: "run", StartedAt: time.Now()}
	ierr := runIngest(ctx, cfg, IngestOptions{}, rep, logger)
	var merr error
	if ctx.Err() == nil && ExitCode(ierr, Classify) != ExitUsage {
		merr = runMerge(ctx, cfg, nil, rep, logger)
	}
	err := ierr
	if err == nil {
		err = merr
	} else if merr != nil {
		logger.Error("merge after a failed ingest failed too", "err", RedactError(merr, cfg.Secrets()))
	}
	rep.finish(err, cfg.Secrets())
	return rep, err
}

// Compact rewrites the raw table's small files into large ones.
func Compact(ctx context.Context, cfg *Config, logger *slog.Logger) (*Report, error) {
	rep := &Report{Job: "compact", StartedAt: time.Now()}
	err := func() error {
		lk, err := openLake(ctx, cfg, logger)
		if err != nil {
			return err
		}
		r, err := ingest.Compact(ctx, lk.raw, ingest.CompactOptions{TargetFileBytes: int64(cfg.Ingest.TargetFileMB) << 20, Logger: logger})
		rep.Compact = r
		if err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		return nil
	}()
	rep.finish(err, cfg.Secrets())
	return rep, err
}
