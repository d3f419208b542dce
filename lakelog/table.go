package lakelog

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// ErrNoTable is returned (wrapped) when the store holds no Delta table: no
// _delta_log/ entries at all.
var ErrNoTable = errors.New("no delta table")

// ErrTableExists is returned (wrapped) by Create when version 0 exists.
var ErrTableExists = errors.New("delta table already exists")

// UnsupportedFeatureError reports a table that lakelog must not read
// (Reader true) or write (Reader false) because its protocol needs a feature
// or version lakelog does not implement.
type UnsupportedFeatureError struct {
	Feature string // the feature name, or e.g. "minReaderVersion=4"
	Reader  bool
}

func (e *UnsupportedFeatureError) Error() string {
	side := "writer"
	if e.Reader {
		side = "reader"
	}
	return fmt.Sprintf("unsupported delta %s feature %q", side, e.Feature)
}

// Options configure a Table. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// CheckpointInterval: 0 means the table's delta.checkpointInterval, or 10.
	CheckpointInterval int
	// MaxCommitAttempts: 0 means 50.
	MaxCommitAttempts int
	// Now is the clock for commit timestamps; nil means time.Now.
	Now func() time.Time
}

// Table is a Delta table in a blob.Store rooted at the table root (data
// files and _delta_log/). A Table holds no state besides its store and
// options: every Snapshot call re-reads the log. Safe for concurrent use.
type Table struct {
	store blob.Store
	opts  Options // defaults filled in: Logger and Now are non-nil
}

// Open returns the table rooted at store. It does no I/O.
func Open(store blob.Store, opts Options) *Table {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxCommitAttempts <= 0 {
		opts.MaxCommitAttempts = 50
	}
	return &Table{store: store, opts: opts}
}

// Store returns the table's store.
func (t *Table) Store() blob.Store { return t.store }

// Snapshot reads the latest version of the table. The error wraps
// ErrNoTable when there is no _delta_log, and is (or wraps) an
// *UnsupportedFeatureError when the table needs a reader feature lakelog
// does not support.
func (t *Table) Snapshot(ctx context.Context) (*Snapshot, error) {
	return t.loadSnapshot(ctx, -1)
}

// SnapshotAt reads the table as of version (time travel), starting from the
// newest checkpoint at or before version.
func (t *Table) SnapshotAt(ctx context.Context, version int64) (*Snapshot, error) {
	if version < 0 {
		return nil, fmt.Errorf("snapshot at version %d: negative version", version)
	}
	return t.loadSnapshot(ctx, version)
}

// Commit is one commit file, decoded.
type Commit struct {
	Version    int64
	Actions    []Action // every action except commitInfo, in file order
	CommitInfo map[string]any
}

// Commits yields the commits with after < version <= upTo in ascending
// order. upTo < 0 means up to the latest. It stops at the first error
// (including a gap in the versions: commits must be contiguous).
func (t *Table) Commits(ctx context.Context, after, upTo int64) iter.Seq2[Commit, error] {
	return func(yield func(Commit, error) bool) {
		files, err := t.listLog(ctx, after+1)
		if err != nil {
			yield(Commit{}, err)
			return
		}
		next := after + 1
		for _, v := range files.commitVersions() {
			if v <= after {
				continue
			}
			if upTo >= 0 && v > upTo {
				break
			}
			if v != next {
				yield(Commit{}, fmt.Errorf("commit %d: %w (missing %d)", v, errVersionsNotContiguous, next))
				return
			}
			c, err := t.readCommit(ctx, v)
			if !yield(c, err) || err != nil {
				return
			}
			next++
		}
		if upTo >= 0 && next <= upTo {
			yield(Commit{}, fmt.Errorf("commit %d: %w", next, blob.ErrNotExist))
		}
	}
}

// readCommit reads and decodes commit v.
func (t *Table) readCommit(ctx context.Context, v int64) (Commit, error) {
	data, err := readAll(ctx, t.store, commitKey(v))
	if err != nil {
		return Commit{}, fmt.Errorf("commit %d: %w", v, err)
	}
	actions, err := DecodeCommit(data)
	if err != nil {
		return Commit{}, fmt.Errorf("commit %d: %w", v, err)
	}
	c := Commit{Version: v, Actions: actions[:0]}
	for _, a := range actions {
		if a.CommitInfo != nil {
			c.CommitInfo = a.CommitInfo
			continue
		}
		c.Actions = append(c.Actions, a)
	}
	return c, nil
}
