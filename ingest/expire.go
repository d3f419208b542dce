package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/lakelog"
)

// ExpireReport says what Expire removed.
type ExpireReport struct {
	Version      int64 `json:"version"` // -1 when nothing was removed
	FilesRemoved int   `json:"files_removed"`
	BytesRemoved int64 `json:"bytes_removed"`
	Rows         int64 `json:"rows"`
}

// Expire removes from the raw table the files whose newest ingest_ts is
// older than olderThan AND that were added at a version <= mergedThrough,
// the smallest raw version every SCD1 table has merged (the caller computes
// it from the SCD1 tables' txn actions): nothing a merge still needs is
// removed. The files stay in storage until VACUUM deletes them.
//
// The raw table is append-only (delta.appendOnly=true), and Delta forbids
// removes with dataChange=true on such tables. Expire writes its removes
// with dataChange=false, which the protocol allows (OPTIMIZE does the same):
// the rows leave the current snapshot, but change-feed and streaming readers
// are not told about it as a deletion — for raw retention that is the
// intent, since the rows were not deleted at the source. A file without
// ingest_ts stats is kept.
func Expire(ctx context.Context, table *lakelog.Table, olderThan time.Duration, mergedThrough int64, now time.Time) (*ExpireReport, error) {
	rep := &ExpireReport{Version: -1}
	snap, err := table.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("raw table snapshot: %w", err)
	}
	// Files added after mergedThrough, from the (recent) commits after it.
	recent := map[string]bool{}
	if mergedThrough < snap.Version() {
		for c, err := range table.Commits(ctx, max(mergedThrough, -1), snap.Version()) {
			if err != nil {
				return nil, fmt.Errorf("raw table commits after %d: %w", mergedThrough, err)
			}
			for _, a := range c.Actions {
				if a.Add != nil {
					recent[a.Add.Path] = true
				}
			}
		}
	}
	cutoff := now.Add(-olderThan)
	tx := snap.Begin("DELETE")
	var paths []string
	for _, a := range snap.Files() {
		if recent[a.Path] {
			continue
		}
		st, err := a.ParsedStats()
		if err != nil || st == nil {
			continue
		}
		maxTS, ok := st.MaxValues["ingest_ts"].(string)
		if !ok {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, maxTS)
		if err != nil || !ts.Before(cutoff) {
			continue
		}
		tx.RemoveFile(a, false)
		paths = append(paths, a.Path)
		rep.FilesRemoved++
		rep.BytesRemoved += a.Size
		rep.Rows += st.NumRecords
	}
	if len(paths) == 0 {
		return rep, nil
	}
	// A concurrent compaction removing the same files conflicts.
	tx.ReadFiles(paths...)
	tx.SetOperationParameters(map[string]any{"predicate": fmt.Sprintf(`["ingest_ts < '%s'", "mergedThrough <= %d"]`, cutoff.UTC().Format(time.RFC3339), mergedThrough)})
	tx.SetOperationMetrics(map[string]any{"numRemovedFiles": len(paths)})
	v, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("expire commit: %w", err)
	}
	rep.Version = v
	return rep, nil
}
