package merge

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// Delete modes.
const (
	// DeleteHard removes deleted rows from the SCD1 table; a tombstone in
	// the side table <table>/_sluice_tombstones/ guards against a late,
	// older event resurrecting the row.
	DeleteHard = "hard"
	// DeleteSoft keeps deleted rows with _sluice_deleted = true; the row
	// itself is the tombstone.
	DeleteSoft = "soft"
)

// Config says which SCD1 tables to maintain and how.
type Config struct {
	// TablesRoot is the key prefix of SCD1 tables in the warehouse store;
	// default locations are <TablesRoot>/<db>/<table>.
	TablesRoot string
	// DeleteMode is DeleteHard (default) or DeleteSoft, for tables whose
	// TableConfig does not say.
	DeleteMode string
	// TombstoneRetention is how long hard-delete tombstones are kept
	// (default 7 days). A change older than a deleted row that arrives after
	// its tombstone expired would resurrect the row.
	TombstoneRetention time.Duration
	// Tables configures individual tables, keyed by source table name
	// (schemas.TableID.String(): "db.schema.table" or "db.table").
	Tables map[string]TableConfig
	// Only restricts the run to these source table names (the --table
	// flag); empty means all.
	Only []string
	// HoldBack, when set, is called once per run with the raw snapshot the
	// run merges up to, before anything is read; the source table names
	// it returns are left out of the run like tables outside Only (not
	// merged, not advanced). jobs holds back tables whose snapshot or
	// backfill has not committed every chunk by that version, so the
	// snapshot rows and the stream are merged together, in ordering-key
	// order, once they are all there. Calling it after taking the raw
	// snapshot makes that exact: a snapshot it does not see yet reads at
	// a position after every change the run merges. An error fails the run.
	HoldBack func(ctx context.Context, raw *lakelog.Snapshot) ([]string, error)
	// held is what HoldBack returned for this run.
	held []string
	// Now is the clock for _sluice_merged_at, tombstone expiry and commit
	// timestamps (default time.Now).
	Now func() time.Time
	// TargetFileRows caps the rows of one SCD1 data file (default
	// 10000). A merge rewrites whole files, so for key-clustered changes
	// the rows rewritten per changed row are about 1 + TargetFileRows /
	// (changes in the cluster): at most 2 once a merge run's cluster
	// holds TargetFileRows changes. Larger files mean fewer files (less
	// per-file work for readers and for changes spread over every file)
	// but a larger rewrite per clustered change.
	TargetFileRows int
	// TargetFileBytes caps the estimated size of one SCD1 data file
	// (default 128 MiB).
	TargetFileBytes int64
	// MaxPassBytes bounds the raw data one pass of a Run holds (default
	// DefaultMaxPassBytes): when the raw files a run would read
	// (dataChange adds of the topics it still needs) add up to more, the
	// run merges the raw versions in consecutive ranges of at most this
	// many file bytes (a larger version is a pass of its own), committing
	// the tables with events in a range per range (passes.go). The bytes
	// are compressed Parquet: a pass's peak RSS was about 13 times its
	// raw file bytes (BenchmarkMergeBacklog, 3 KB text rows: 5.2 GB for
	// 411 MB of raw files in one pass, 1.3 GB in passes of 64 MiB).
	MaxPassBytes int64
}

// TableConfig overrides the defaults for one SCD1 table.
type TableConfig struct {
	// Location is the table's key prefix in the warehouse store, relative
	// to it (not to TablesRoot). Default <TablesRoot>/<db>/<table>.
	Location string
	// DeleteMode overrides Config.DeleteMode.
	DeleteMode string
	// Key names the primary-key columns when the Kafka record key does not
	// carry them (tables without a primary key at the source).
	Key []string
	// DeletionVectors lets the merge mark changed rows deleted with a
	// Delta deletion vector instead of rewriting their files (see
	// deletionvectors.go), so random changes cost about a row each. It
	// upgrades the table to protocol (3,7) with the deletionVectors
	// feature and sets delta.enableDeletionVectors: every reader of the
	// table must then support deletion vectors. Default false.
	DeletionVectors bool
}

// defaultTargetFileRows is Config.TargetFileRows' default. It was 1<<20;
// 10000 keeps a clustered batch of 10000 changes (BenchmarkMerge's) at 2
// rows rewritten per change where 20000 gave 3 and 1<<20 100, while
// inserts, full rewrites (random changes) and deletion-vector scans cost
// about the same per row (doc.go).
const defaultTargetFileRows = 10000

// DefaultMaxPassBytes is Config.MaxPassBytes' default: 64 MiB of raw
// files, a peak RSS of about 1.3 GB for 3 KB rows, against 5.2 GB for
// the same 300000 rows in one pass (BenchmarkMergeBacklog); 512 MiB
// would allow about 6.5 GB.
const DefaultMaxPassBytes = 64 << 20

func (c *Config) withDefaults() Config {
	out := *c
	if out.DeleteMode == "" {
		out.DeleteMode = DeleteHard
	}
	if out.TombstoneRetention <= 0 {
		out.TombstoneRetention = 7 * 24 * time.Hour
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.TargetFileRows <= 0 {
		out.TargetFileRows = defaultTargetFileRows
	}
	if out.TargetFileBytes <= 0 {
		out.TargetFileBytes = 128 << 20
	}
	if out.MaxPassBytes <= 0 {
		out.MaxPassBytes = DefaultMaxPassBytes
	}
	return out
}

// selected reports whether the run includes table id.
func (c *Config) selected(id schemas.TableID) bool {
	if slices.Contains(c.held, id.String()) {
		return false
	}
	if len(c.Only) == 0 {
		return true
	}
	for _, name := range c.Only {
		if name == id.String() {
			return true
		}
	}
	return false
}

// tableConfig returns the effective configuration of a table.
func (c *Config) tableConfig(id schemas.TableID) TableConfig {
	tc := c.Tables[id.String()]
	if tc.DeleteMode == "" {
		tc.DeleteMode = c.DeleteMode
	}
	if tc.Location == "" {
		tc.Location = DefaultLocation(c.TablesRoot, id)
	}
	return tc
}

// DefaultLocation is <root>/<db>/<table>; for a PostgreSQL table outside
// the "public" schema it is <root>/<db>/<schema>.<table>, so equal table
// names in different schemas do not share a table.
func DefaultLocation(root string, id schemas.TableID) string {
	name := id.Table
	if id.Schema != "" && id.Schema != "public" {
		name = id.Schema + "." + id.Table
	}
	parts := []string{}
	if r := strings.Trim(root, "/"); r != "" {
		parts = append(parts, r)
	}
	parts = append(parts, id.Database, name)
	return strings.Join(parts, "/")
}
