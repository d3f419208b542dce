package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"
)

// Backfill reloads tables, or a slice of one (opts.Where), the way
// Snapshot loads them, while capture goes on: the rows are ordered against
// the change stream, so the merge keeps whichever is newer. Without
// opts.SnapshotID it takes a new id (NewBackfillID), reported in the
// report's snapshot_id; passing that id again resumes an interrupted
// backfill.
func Backfill(ctx context.Context, cfg *Config, opts SnapshotOptions, logger *slog.Logger) (*SnapshotReport, error) {
	if len(opts.Tables) == 0 {
		rep := &SnapshotReport{Report: Report{Job: "backfill", StartedAt: time.Now()}}
		err := UsageError(errors.New("backfill needs --table"))
		rep.finish(err, cfg.Secrets())
		return rep, err
	}
	if opts.SnapshotID == "" {
		opts.SnapshotID = NewBackfillID(time.Now())
	}
	logger.Info("backfill", "snapshot_id", opts.SnapshotID, "tables", opts.Tables, "where", opts.Where)
	return runSnapshotJob(ctx, "backfill", cfg, opts, logger)
}

// NewBackfillID returns "backfill-<UTC time>-<random>": unique, sortable
// by start time, and valid as a snapshot id.
func NewBackfillID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "backfill-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
