package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/schemas/pgtext"
	"github.com/sluicehq/sluice/snapshot"
)

// Config configures a PostgreSQL snapshot source.
type Config struct {
	// DSN is a libpq URL or key=value string. It may hold a password: it
	// is never logged nor put in errors.
	DSN string
	// Tables are the "schema.table" names to snapshot.
	Tables []string
	// ExactBoundaryRows: tables estimated at up to this many rows get
	// exact chunk boundaries from one ordered scan of the key (every
	// chunk the same size); larger ones sample with TABLESAMPLE SYSTEM.
	// Default 50,000,000.
	ExactBoundaryRows int64
	// Version is the source block's "version" (default "sluice").
	Version string
	// MaxConns bounds the worker connection pool (default 8).
	MaxConns int32
}

// Source is the PostgreSQL snapshot.Source. Safe for concurrent use.
type Source struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	db   string
	// serverVersion is server_version_num (150004 for 15.4).
	serverVersion int

	mu     sync.Mutex
	tables map[schemas.TableID]*pgTable
	types  map[uint32]pgtext.Type
}

// pgTable is what reading a table needs beyond snapshot.Table.
type pgTable struct {
	t        *snapshot.Table
	rel      string   // quoted schema.table
	cols     []string // quoted column names, table order
	keyCols  []string // quoted key column names, key order
	keyTypes []string // format_type of each key column, for literal casts
	decoders []pgtext.Decoder
}

// sessionParams make the server's text output what the decoders (and
// capture's walsender session) expect.
var sessionParams = map[string]string{
	"TimeZone":      "UTC",
	"DateStyle":     "ISO, MDY",
	"IntervalStyle": "postgres",
	"bytea_output":  "hex",
	// Chunk bounds are quoted with quoteLiteral.
	"standard_conforming_strings": "on",
}

// New connects a worker pool. Close it when done.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Source, error) {
	if cfg.DSN == "" {
		return nil, errors.New("postgres snapshot: DSN is empty")
	}
	if len(cfg.Tables) == 0 {
		return nil, errors.New("postgres snapshot: no tables")
	}
	if cfg.ExactBoundaryRows <= 0 {
		cfg.ExactBoundaryRows = 50_000_000
	}
	if cfg.Version == "" {
		cfg.Version = "sluice"
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, errors.New("postgres snapshot: parse DSN: invalid connection string")
	}
	pc.MaxConns = cfg.MaxConns
	for k, v := range sessionParams {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres snapshot: connect: %w", err)
	}
	s := &Source{cfg: cfg, log: logger, pool: pool, tables: map[schemas.TableID]*pgTable{}, types: map[uint32]pgtext.Type{}}
	if err := pool.QueryRow(ctx, `SELECT current_database(), current_setting('server_version_num')::int`).Scan(&s.db, &s.serverVersion); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres snapshot: connect: %w", err)
	}
	return s, nil
}

// Close closes the worker pool.
func (s *Source) Close() { s.pool.Close() }

// Connector implements snapshot.Source.
func (s *Source) Connector() string { return schemas.ConnectorPostgres }

// Tables implements snapshot.Source: columns mapped as capture maps them,
// the primary key, and pg_class.reltuples as the estimate (an exact count
// when the table was never analyzed).
func (s *Source) Tables(ctx context.Context) ([]*snapshot.Table, error) {
	out := make([]*snapshot.Table, 0, len(s.cfg.Tables))
	for _, name := range s.cfg.Tables {
		pt, err := s.describe(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		s.mu.Lock()
		s.tables[pt.t.ID] = pt
		s.mu.Unlock()
		out = append(out, pt.t)
	}
	return out, nil
}

func (s *Source) describe(ctx context.Context, name string) (*pgTable, error) {
	var relID uint32
	var nsp, rel string
	var reltuples float64
	err := s.pool.QueryRow(ctx, `
SELECT c.oid, n.nspname, c.relname, c.reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1)`, name).Scan(&relID, &nsp, &rel, &reltuples)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errors.New("no such table")
	}
	if err != nil {
		return nil, err
	}
	pt := &pgTable{rel: quoteIdent(nsp) + "." + quoteIdent(rel)}
	t := &snapshot.Table{ID: schemas.TableID{Database: s.db, Schema: nsp, Table: rel}}
	rows, err := s.pool.Query(ctx, `
SELECT attname, atttypid, atttypmod, format_type(atttypid, atttypmod)
FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, relID)
	if err != nil {
		return nil, err
	}
	type attr struct {
		name   string
		oid    uint32
		typmod int32
		format string
	}
	attrs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attr, error) {
		var a attr
		return a, r.Scan(&a.name, &a.oid, &a.typmod, &a.format)
	})
	if err != nil {
		return nil, err
	}
	lookup := s.lookupType(ctx)
	formats := map[string]string{}
	for _, a := range attrs {
		col, dec, err := pgtext.MapColumn(a.name, a.oid, a.typmod, lookup)
		if err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, col)
		pt.decoders = append(pt.decoders, dec)
		pt.cols = append(pt.cols, quoteIdent(a.name))
		formats[a.name] = a.format
	}
	rows, err = s.pool.Query(ctx, `
SELECT a.attname
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary
ORDER BY k.ord`, relID)
	if err != nil {
		return nil, err
	}
	if t.Key, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	for _, k := range t.Key {
		pt.keyCols = append(pt.keyCols, quoteIdent(k))
		pt.keyTypes = append(pt.keyTypes, formats[k])
		// Key columns are required in Debezium's schema, as capture
		// marks them.
		for i := range t.Columns {
			if t.Columns[i].Name == k {
				t.Columns[i].Optional = false
			}
		}
	}
	t.EstimatedRows = int64(reltuples)
	if reltuples < 0 {
		// Never analyzed (PostgreSQL 14+ says -1): count once.
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pt.rel).Scan(&t.EstimatedRows); err != nil {
			return nil, err
		}
	}
	pt.t = t
	return pt, nil
}

func (s *Source) lookupType(ctx context.Context) pgtext.TypeLookup {
	return func(oid uint32) (pgtext.Type, error) {
		s.mu.Lock()
		t, ok := s.types[oid]
		s.mu.Unlock()
		if ok {
			return t, nil
		}
		t = pgtext.Type{OID: oid}
		var category string
		err := s.pool.QueryRow(ctx,
			`SELECT typname, typtype, typcategory, typelem, typbasetype FROM pg_type WHERE oid = $1`, oid,
		).Scan(&t.Name, &t.Kind, &category, &t.Elem, &t.Base)
		if err != nil {
			return pgtext.Type{}, fmt.Errorf("look up type %d: %w", oid, err)
		}
		if category != "A" {
			t.Elem = 0
		}
		if t.Kind == 'e' {
			rows, err := s.pool.Query(ctx, `SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`, oid)
			if err != nil {
				return pgtext.Type{}, fmt.Errorf("look up enum %d: %w", oid, err)
			}
			if t.Labels, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return pgtext.Type{}, fmt.Errorf("look up enum %d: %w", oid, err)
			}
		}
		s.mu.Lock()
		s.types[oid] = t
		s.mu.Unlock()
		return t, nil
	}
}

func (s *Source) table(t *snapshot.Table) (*pgTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pt, ok := s.tables[t.ID]
	if !ok {
		return nil, fmt.Errorf("table %s: not listed by Tables", t.ID)
	}
	return pt, nil
}

// Boundaries implements snapshot.Source. Tables up to ExactBoundaryRows
// get every step-th key of one ordered scan of the key (window function
// over the primary-key index: one pass, chunks of equal size however the
// keys are spread); larger tables sample pages with TABLESAMPLE SYSTEM
// and pick quantiles of the sorted sample. Either way the server sorts,
// in the key's own order.
func (s *Source) Boundaries(ctx context.Context, t *snapshot.Table, chunks int) ([]snapshot.Bound, error) {
	pt, err := s.table(t)
	if err != nil {
		return nil, err
	}
	// Qualified names: a bare ORDER BY name would pick the ::text output
	// column and sort as text.
	keys := strings.Join(pt.keyCols, ", ")
	texts := make([]string, len(pt.keyCols))
	qualified := make([]string, len(pt.keyCols))
	for i, k := range pt.keyCols {
		texts[i] = "s." + k + "::text"
		qualified[i] = "s." + k
	}
	qkeys := strings.Join(qualified, ", ")
	var sql string
	pick := false
	// With a Where, the step stays the whole table's rows per chunk:
	// the filtered rows then split into chunks of that size, fewer of
	// them.
	if t.EstimatedRows <= s.cfg.ExactBoundaryRows {
		step := max(t.EstimatedRows/int64(chunks), 1)
		sql = fmt.Sprintf(`SELECT %s FROM (SELECT %s, row_number() OVER (ORDER BY %s) AS sluice_rn FROM %s%s) s WHERE s.sluice_rn %% %d = 0 ORDER BY %s`,
			strings.Join(texts, ", "), keys, keys, pt.rel, whereClause(t.Where, ""), step, qkeys)
	} else {
		// About 200 sampled keys per chunk.
		pct := min(100, float64(chunks)*200*100/float64(t.EstimatedRows))
		sql = fmt.Sprintf(`SELECT %s FROM %s s TABLESAMPLE SYSTEM (%s)%s ORDER BY %s`,
			strings.Join(texts, ", "), pt.rel, strconv.FormatFloat(pct, 'f', 6, 64), whereClause(t.Where, ""), qkeys)
		pick = true
	}
	rows, err := s.pool.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	bounds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (snapshot.Bound, error) {
		vals := make([]*string, len(pt.keyCols))
		dst := make([]any, len(vals))
		for i := range vals {
			dst[i] = &vals[i]
		}
		if err := r.Scan(dst...); err != nil {
			return nil, err
		}
		b := make(snapshot.Bound, len(vals))
		for i, v := range vals {
			if v == nil {
				return nil, errors.New("null primary-key value")
			}
			b[i] = *v
		}
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	if pick {
		if t.Where != "" {
			// The sample was of the whole table; the slice gets as many
			// chunks as its share of the sample warrants.
			chunks = min(chunks, len(bounds)/200+1)
		}
		return snapshot.PickBoundaries(bounds, chunks), nil
	}
	return bounds, nil
}

// OpenView implements snapshot.Source with an exported snapshot: a
// replication connection creates a TEMPORARY logical slot with
// EXPORT_SNAPSHOT, which returns the slot's consistent point P and a
// snapshot in which exactly the transactions whose commit record lies
// before P are visible (the ones the slot would not stream). Workers
// import it per chunk. The connection stays idle, holding the snapshot,
// until Close, which drops the slot by disconnecting.
func (s *Source) OpenView(ctx context.Context) (snapshot.View, error) {
	pc, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, errors.New("postgres snapshot: parse DSN: invalid connection string")
	}
	pc.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("replication connect: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	slot := "sluice_snap_" + hex.EncodeToString(rnd[:])
	res, err := conn.Exec(ctx, `CREATE_REPLICATION_SLOT `+slot+` TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`).ReadAll()
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("create temporary slot: %w", err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) < 3 {
		conn.Close(context.Background())
		return nil, errors.New("create temporary slot: unexpected reply")
	}
	row := res[0].Rows[0]
	point, err := parseLSN(string(row[1]))
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("create temporary slot: consistent point: %w", err)
	}
	return &view{
		s: s, conn: conn, snapshotName: string(row[2]),
		pos: schemas.Source{
			Version:   s.cfg.Version,
			Connector: schemas.ConnectorPostgres,
			TsMs:      time.Now().UnixMilli(),
			CommitLSN: point,
		},
	}, nil
}

// parseLSN reads "16/B374D848".
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("lsn %q", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("lsn %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("lsn %q: %w", s, err)
	}
	return h<<32 | l, nil
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteLiteral quotes s as a standard-conforming string literal; chunk
// bounds are literals because COPY takes no parameters.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
