package snapshot

import "time"

// Progress is one progress event of one table, sent after every chunk
// commit and once when the table is done. Rendering (terminal lines, JSON
// progress lines) belongs to the caller.
type Progress struct {
	Table         string // db.schema.table
	ChunksDone    int    // committed, this run or an earlier one
	ChunksTotal   int
	Rows          int64 // rows committed, this run and earlier runs of the snapshot
	EstimatedRows int64 // the source's estimate at planning time; 0 unknown
	RowsPerSec    float64
	// ETA is the estimated time left from this run's rate over the chunks
	// left; 0 when done or unknown.
	ETA  time.Duration
	Done bool
}

// Report is what a Run did.
type Report struct {
	SnapshotID string
	Tables     []*TableReport
	Rows       int64 // rows written by this run
	Files      int
	Bytes      int64
	Duration   time.Duration
}

// TableReport is what a Run did for one table.
type TableReport struct {
	Table   string // db.schema.table
	Topic   string
	Chunks  int   // in the plan: the key ranges and the recheck pass, if any
	Skipped int   // chunks already committed by an earlier run (or a concurrent one)
	Rows    int64 // rows written by this run
	Files   int
	Bytes   int64
	// Commits are the raw table versions this run committed, ascending.
	Commits []int64
	// Views are the distinct ordering keys the chunks of this run were
	// read at (one per consistent view used).
	Views []string
	// OneView: all the table's chunks are read in one view
	// (Config.PartialImages).
	OneView bool
	// Reread is how many chunks committed by an earlier run this run read
	// again (a one-view table found partly loaded is read in full).
	Reread int
	// RecheckRows is how many rows this run's recheck pass re-read
	// (recheck.go); 0 also when the pass found every chunk read in one
	// view and committed it without reading.
	RecheckRows int64
	Duration    time.Duration
}
