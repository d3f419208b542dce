package lakelog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file implements metadata cleanup (§Metadata Cleanup): deleting the
// log files that no snapshot within the log retention needs.
//
//  1. cutoff = now - delta.logRetentionDuration, truncated down to midnight
//     UTC as the spec describes. A commit's time is its file's modification
//     time, made monotonic in version order (a commit is never older than
//     the one before it, as Spark's BufferingLogDeletionIterator does), so
//     clock skew between writers can only keep more.
//  2. The cutoff commit is the newest commit not newer than the cutoff; the
//     cutoff checkpoint is the newest complete checkpoint at or before it.
//     None: nothing is deleted.
//  3. Commit files, checkpoint files (any kind, complete or not) and .crc
//     files of versions below the cutoff checkpoint's are deleted, as are
//     log compaction files whose start version is at or below it. The
//     cutoff checkpoint, its commit file, everything newer and
//     _last_checkpoint are never deleted.
//
// Afterwards every version from the cutoff checkpoint's on stays readable;
// older versions are refused with an error wrapping errVersionsNotContiguous.
//
// TODO(cleanup): v2 checkpoint sidecars (_delta_log/_sidecars/, steps 4-5)
// and catalog-managed _staged_commits are left in place; lakelog writes
// neither.

// DefaultLogRetention is Spark's delta.logRetentionDuration default.
const DefaultLogRetention = 30 * 24 * time.Hour

// CleanupOptions configure CleanupMetadata. The zero value is a dry run
// with the table's log retention.
type CleanupOptions struct {
	// Retention: 0 means the table's delta.logRetentionDuration, or 30 days.
	Retention time.Duration
	// Execute deletes the files; without it CleanupMetadata only reports.
	Execute bool
	// Now is the clock; nil means the table's clock (Options.Now).
	Now func() time.Time
}

// CleanupFile is one log file CleanupMetadata deleted or would delete.
type CleanupFile struct {
	Key     string // store key, _delta_log/...
	Version int64  // the version in its name (the start version of a compaction file)
	Size    int64
}

// CleanupReport is what CleanupMetadata found and did.
type CleanupReport struct {
	Retention time.Duration
	Cutoff    time.Time // midnight UTC at or before now - retention
	// CheckpointVersion is the cutoff checkpoint: the oldest version still
	// readable afterwards. -1 when there is none (nothing to delete).
	CheckpointVersion int64
	DryRun            bool
	Files             []CleanupFile // by key
	Bytes             int64
	Deleted           int // files deleted so far; on error, a prefix of Files
}

// CleanupMetadata deletes expired commits and checkpoints from _delta_log/
// (rules at the top of cleanup.go). By default (opts.Execute false) it
// deletes nothing and reports what it would delete.
//
// Before deleting it reads the latest snapshot and the snapshot at the
// cutoff checkpoint, so a table (or checkpoint) it cannot read is never
// trimmed. Idempotent, and a run that failed part-way can be rerun.
// Concurrent readers time-travelling to versions being deleted may fail;
// concurrent writers are unaffected (they only need the newest versions).
func (t *Table) CleanupMetadata(ctx context.Context, opts CleanupOptions) (*CleanupReport, error) {
	latest, err := t.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	meta := latest.Metadata()
	retention := opts.Retention
	if retention == 0 {
		retention = logRetention(&meta)
	}
	if retention < 0 {
		return nil, fmt.Errorf("cleanup: negative retention %s", retention)
	}
	now := t.opts.Now
	if opts.Now != nil {
		now = opts.Now
	}
	cutoff := now().Add(-retention).UTC().Truncate(24 * time.Hour)
	report := &CleanupReport{Retention: retention, Cutoff: cutoff, CheckpointVersion: -1, DryRun: !opts.Execute}

	files, err := t.listLogFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	listing, err := t.listLog(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}

	// The cutoff commit, with monotonic commit times.
	cutoffCommit := int64(-1)
	var prev time.Time
	for _, f := range files {
		if f.kind != "commit" {
			continue
		}
		ts := f.modTime
		if !prev.IsZero() && !ts.After(prev) {
			ts = prev.Add(time.Millisecond)
		}
		prev = ts
		if ts.After(cutoff) {
			break
		}
		cutoffCommit = f.version
	}
	for v := range listing.checkpoints {
		if v <= cutoffCommit && v > report.CheckpointVersion && listing.commits[v] {
			report.CheckpointVersion = v
		}
	}
	if report.CheckpointVersion < 0 {
		return report, nil
	}
	// Refuse to trim a log whose kept part we cannot read.
	if _, err := t.SnapshotAt(ctx, report.CheckpointVersion); err != nil {
		return nil, fmt.Errorf("cleanup: cutoff checkpoint %d is not readable: %w", report.CheckpointVersion, err)
	}

	for _, f := range files {
		expired := f.version < report.CheckpointVersion
		if f.kind == "compaction" {
			expired = f.version <= report.CheckpointVersion
		}
		if !expired {
			continue
		}
		report.Files = append(report.Files, CleanupFile{Key: f.key, Version: f.version, Size: f.size})
		report.Bytes += f.size
	}
	if !opts.Execute {
		return report, nil
	}
	// Oldest first: if we stop part-way, what is left is still a readable
	// suffix of the log.
	for _, f := range report.Files {
		if err := t.store.Delete(ctx, f.Key); err != nil {
			return report, fmt.Errorf("cleanup: delete %s: %w", f.Key, err)
		}
		report.Deleted++
	}
	t.opts.Logger.Info("lakelog: cleaned up log", "checkpoint", report.CheckpointVersion, "files", report.Deleted, "bytes", report.Bytes)
	return report, nil
}

// EarliestVersion returns the oldest version SnapshotAt can start from: 0
// while commit 0 exists, else (after metadata cleanup) the oldest complete
// checkpoint. It does not check that every later commit is present.
func (t *Table) EarliestVersion(ctx context.Context) (int64, error) {
	l, err := t.listLog(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("earliest version: %w", err)
	}
	if !l.anything {
		return 0, fmt.Errorf("earliest version: %w", ErrNoTable)
	}
	if l.commits[0] {
		return 0, nil
	}
	earliest := int64(-1)
	for v := range l.checkpoints {
		if earliest < 0 || v < earliest {
			earliest = v
		}
	}
	if earliest < 0 {
		return 0, fmt.Errorf("earliest version: commit 0 is missing and there is no checkpoint: %w", errVersionsNotContiguous)
	}
	return earliest, nil
}

// logFile is one _delta_log/ file cleanup knows how to age.
type logFile struct {
	key     string
	version int64
	kind    string // commit, classic, multi-part, v2, crc, compaction
	size    int64
	modTime time.Time
}

// listLogFiles lists the top level of _delta_log/ in key order (so commits
// come in version order), keeping the versioned files: commits,
// checkpoints (complete or not), .crc and compaction files. Everything
// else (_last_checkpoint, subdirectories, unknown names) is left out and so
// never deleted.
func (t *Table) listLogFiles(ctx context.Context) ([]logFile, error) {
	var out []logFile
	for obj, err := range t.store.List(ctx, logDir) {
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", logDir, err)
		}
		name, ok := strings.CutPrefix(obj.Key, logDir)
		if !ok || strings.Contains(name, "/") {
			continue
		}
		f := logFile{key: obj.Key, size: obj.Size, modTime: obj.ModTime}
		if n, ok := parseLogName(name); ok {
			f.version, f.kind = n.version, n.kind
		} else if v, ok := parseVersionedName(name, ".crc"); ok {
			f.version, f.kind = v, "crc"
		} else if v, ok := parseCompactionName(name); ok {
			f.version, f.kind = v, "compaction"
		} else {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// parseVersionedName parses "<20-digit version><suffix>".
func parseVersionedName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	return v, err == nil && v >= 0
}

// parseCompactionName parses "<x>.<y>.compacted.json" (§Log Compaction
// Files) and returns the start version x.
func parseCompactionName(name string) (int64, bool) {
	rest, ok := strings.CutSuffix(name, ".compacted.json")
	if !ok || len(rest) != 41 || rest[20] != '.' {
		return 0, false
	}
	x, ok1 := parseVersionedName(rest[:20], "")
	y, ok2 := parseVersionedName(rest[21:], "")
	return x, ok1 && ok2 && x <= y
}

// logRetention is delta.logRetentionDuration (default 30 days).
func logRetention(m *Metadata) time.Duration {
	s, ok := m.Configuration["delta.logRetentionDuration"]
	if !ok {
		return DefaultLogRetention
	}
	d, err := parseInterval(s)
	if err != nil || d <= 0 {
		return DefaultLogRetention
	}
	return d
}
