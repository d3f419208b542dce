package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/schemas/pgtext"
)

// catalog answers the questions pgoutput's Relation message leaves open:
// user type details (enums, domains, arrays) and primary keys. It uses an
// ordinary (non-replication) connection pool; safe for concurrent use.
type catalog struct {
	pool *pgxpool.Pool

	mu    sync.Mutex
	types map[uint32]pgtext.Type
}

func (c *catalog) lookupType(ctx context.Context) pgtext.TypeLookup {
	return func(oid uint32) (pgtext.Type, error) {
		c.mu.Lock()
		t, ok := c.types[oid]
		c.mu.Unlock()
		if ok {
			return t, nil
		}
		t = pgtext.Type{OID: oid}
		var category string
		err := c.pool.QueryRow(ctx,
			`SELECT typname, typtype, typcategory, typelem, typbasetype FROM pg_type WHERE oid = $1`, oid,
		).Scan(&t.Name, &t.Kind, &category, &t.Elem, &t.Base)
		if err != nil {
			return pgtext.Type{}, fmt.Errorf("look up type %d: %w", oid, err)
		}
		if category != "A" {
			t.Elem = 0
		}
		if t.Kind == 'e' {
			rows, err := c.pool.Query(ctx, `SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`, oid)
			if err != nil {
				return pgtext.Type{}, fmt.Errorf("look up enum %d: %w", oid, err)
			}
			t.Labels, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return pgtext.Type{}, fmt.Errorf("look up enum %d: %w", oid, err)
			}
		}
		c.mu.Lock()
		c.types[oid] = t
		c.mu.Unlock()
		return t, nil
	}
}

// primaryKey returns the primary-key column names of the relation, in key
// order, or nil when it has none.
func (c *catalog) primaryKey(ctx context.Context, relID uint32) ([]string, error) {
	rows, err := c.pool.Query(ctx, `
SELECT a.attname
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary
ORDER BY k.ord`, relID)
	if err != nil {
		return nil, fmt.Errorf("look up primary key of relation %d: %w", relID, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up primary key of relation %d: %w", relID, err)
	}
	return names, nil
}

// ensurePublication creates the publication when it does not exist.
func (c *catalog) ensurePublication(ctx context.Context, cfg Config, filter *capture.TableFilter) (created bool, err error) {
	var exists bool
	if err := c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, cfg.Publication).Scan(&exists); err != nil {
		return false, fmt.Errorf("check publication %q: %w", cfg.Publication, err)
	}
	if exists {
		return false, nil
	}
	pub := pgx.Identifier{cfg.Publication}.Sanitize()
	if cfg.AllTables {
		if _, err := c.pool.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR ALL TABLES"); err != nil {
			return false, fmt.Errorf("create publication %q: %w", cfg.Publication, err)
		}
		return true, nil
	}
	rows, err := c.pool.Query(ctx, `
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
ORDER BY 1, 2`)
	if err != nil {
		return false, fmt.Errorf("list tables: %w", err)
	}
	type tbl struct{ Schema, Name string }
	all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tbl])
	if err != nil {
		return false, fmt.Errorf("list tables: %w", err)
	}
	var idents []string
	for _, t := range all {
		if filter.Match(t.Schema + "." + t.Name) {
			idents = append(idents, pgx.Identifier{t.Schema, t.Name}.Sanitize())
		}
	}
	if len(idents) == 0 {
		return false, fmt.Errorf("create publication %q: no table matches the configured tables", cfg.Publication)
	}
	if _, err := c.pool.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+strings.Join(idents, ", ")); err != nil {
		return false, fmt.Errorf("create publication %q: %w", cfg.Publication, err)
	}
	return true, nil
}

// slotState is a row of pg_replication_slots.
type slotState struct {
	Exists         bool
	ConfirmedFlush uint64
	Lost           bool
	// Database is the database the slot decodes ("" for a physical slot).
	// Slot names are global to the server, so a slot of the configured
	// name may belong to another database.
	Database string
}

func (c *catalog) slot(ctx context.Context, name string) (slotState, error) {
	var s slotState
	var flush, walStatus, database *string
	err := c.pool.QueryRow(ctx,
		`SELECT confirmed_flush_lsn::text, wal_status, database::text FROM pg_replication_slots WHERE slot_name = $1`, name,
	).Scan(&flush, &walStatus, &database)
	if err == pgx.ErrNoRows {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("look up slot %q: %w", name, err)
	}
	s.Exists = true
	if database != nil {
		s.Database = *database
	}
	s.Lost = walStatus != nil && *walStatus == "lost"
	if flush != nil {
		lsn, err := parseLSN(*flush)
		if err != nil {
			return s, fmt.Errorf("slot %q: %w", name, err)
		}
		s.ConfirmedFlush = lsn
	}
	return s, nil
}
