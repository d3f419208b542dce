package snapshot

import (
	"context"

	"github.com/sluicehq/sluice/schemas"
)

// Source is a database that can be snapshotted: it lists tables, plans
// key-range chunks from the key distribution and opens consistent views to
// read chunks in. snapshot/postgres implements it.
//
// Implementations are safe for concurrent use: Run calls OpenView and the
// methods of open Views from several goroutines at once.
type Source interface {
	// Connector is schemas.ConnectorPostgres, ConnectorMySQL or
	// ConnectorMariaDB.
	Connector() string

	// Tables describes the tables to snapshot. A table without a primary
	// key is an error naming it (key ranges need a key).
	Tables(ctx context.Context) ([]*Table, error)

	// Boundaries returns up to chunks-1 strictly increasing key values
	// that split t into chunks of about equal row counts, taken from the
	// key distribution (not min/max arithmetic). It holds no lock and no
	// transaction after it returns. Repeating it may give other values;
	// Run persists the plan, so a resumed snapshot never re-plans.
	Boundaries(ctx context.Context, t *Table, chunks int) ([]Bound, error)

	// OpenView takes a consistent read point. Rows read through the view
	// are the table contents at exactly that point, and View.Position
	// orders them against the change stream. Close releases it.
	OpenView(ctx context.Context) (View, error)
}

// View is one consistent read point of a Source. ReadChunk may be called
// concurrently from several goroutines until Close.
type View interface {
	// Position is the source block every row read in this view carries:
	// connector, version and the position fields (PostgreSQL CommitLSN,
	// LSN 0), TsMs = when the point was taken. Table names and Snapshot
	// are filled by Run. Its OrderingKey sorts after every change the
	// view reflects and before every change it does not.
	Position() schemas.Source

	// ReadChunk reads the rows of chunk c of table t in key order and
	// calls emit with each row's values, aligned with t.Columns, in
	// Debezium's representation (see schemas.Change). The row slice is
	// reused after emit returns. An error from emit stops the read and
	// is returned. Reading a chunk twice gives the same rows: it is
	// idempotent and holds no lock beyond the read itself.
	ReadChunk(ctx context.Context, t *Table, c Chunk, emit func(row []any) error) error

	// Close releases the view (PostgreSQL: ends the exported snapshot
	// and drops its temporary slot). Idempotent.
	Close() error
}

// Table is one source table to snapshot.
type Table struct {
	ID schemas.TableID
	// Columns in table order, Debezium types (as capture maps them).
	Columns []schemas.Column
	// Key names the primary-key columns in key order.
	Key []string
	// EstimatedRows is the source's row estimate (for chunk counts and
	// ETA only; 0 when unknown).
	EstimatedRows int64
	// Where, when not empty, is a SQL boolean expression in the source's
	// dialect that limits the rows read (a backfill's --where, or the key
	// ranges `validate --repair` reloads). Sources AND it, parenthesised,
	// into both Boundaries and ReadChunk queries. It is operator input
	// run as SQL with the source credentials, exactly as the operator
	// could run it by hand; it is never built from data.
	Where string
	// PartialImages says that the table's change events may lack
	// columns a merge must then carry forward from the row's previous
	// version (MySQL/MariaDB binlog_row_image MINIMAL or NOBLOB). Run
	// then reads all its chunks in one view (see PartialImages, the
	// Config option that can override it). Sources set it in Tables.
	PartialImages bool
}

// Bound is one primary-key value, one element per key column in key
// order, in the Source's own representation (snapshot/postgres: the
// server's text form). Run only stores and compares them for equality.
type Bound []string
