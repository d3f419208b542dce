package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CaptureState is what a snapshot needs to know about the capture of a
// database before reading it: a snapshot view's consistent point P is
// taken after this check, and every change committed at or after P reaches
// Kafka only if a slot that existed before P streams it, over a
// publication that includes the table.
type CaptureState struct {
	Slot string
	// SlotExists: the logical slot is there, so the server keeps every
	// change from its confirmed position on, whether or not a capture is
	// connected right now.
	SlotExists bool
	// SlotActive: a walsender (capture) is connected to it now.
	SlotActive bool
	// SlotLost: wal_status = 'lost'; the slot can no longer stream.
	SlotLost bool
	// SlotPlugin is the slot's output plugin (capture uses pgoutput).
	SlotPlugin string

	Publication       string
	PublicationExists bool
	// AllTables: the publication is FOR ALL TABLES.
	AllTables bool
	// Published are the "schema.table" names the publication streams.
	Published map[string]bool
}

// CheckCapture reads the state of slot and publication. It changes
// nothing. The error is about reaching the server, not about the state.
func CheckCapture(ctx context.Context, dsn, slot, publication string) (CaptureState, error) {
	st := CaptureState{Slot: slot, Publication: publication, Published: map[string]bool{}}
	conn, err := connect(ctx, dsn)
	if err != nil {
		return st, err
	}
	defer conn.Close(context.Background())
	var walStatus *string
	err = conn.QueryRow(ctx,
		`SELECT active, coalesce(plugin, ''), wal_status FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, slot,
	).Scan(&st.SlotActive, &st.SlotPlugin, &walStatus)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return st, fmt.Errorf("look up slot %q: %w", slot, err)
	default:
		st.SlotExists = true
		st.SlotLost = walStatus != nil && *walStatus == "lost"
	}
	err = conn.QueryRow(ctx, `SELECT puballtables FROM pg_publication WHERE pubname = $1`, publication).Scan(&st.AllTables)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("look up publication %q: %w", publication, err)
	}
	st.PublicationExists = true
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1`, publication)
	if err != nil {
		return st, fmt.Errorf("publication %q tables: %w", publication, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return st, fmt.Errorf("publication %q tables: %w", publication, err)
	}
	for _, n := range names {
		st.Published[n] = true
	}
	return st, nil
}

// ListTables returns the database's name and its ordinary and partitioned
// tables ("schema.table", partitions left out, as capture lists them),
// outside the system schemas, sorted.
func ListTables(ctx context.Context, dsn string) (db string, tables []string, err error) {
	conn, err := connect(ctx, dsn)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return "", nil, fmt.Errorf("current database: %w", err)
	}
	rows, err := conn.Query(ctx, `
SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
ORDER BY 1`)
	if err != nil {
		return "", nil, fmt.Errorf("list tables: %w", err)
	}
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", nil, fmt.Errorf("list tables: %w", err)
	}
	return db, tables, nil
}

// connect opens one plain connection; the error never holds the DSN.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("postgres: parse DSN: invalid connection string")
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return conn, nil
}
