package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	gosql "github.com/go-sql-driver/mysql"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/schemas/mysqltype"
	"github.com/sluicehq/sluice/snapshot"
)

// Flavors of server, as Config.Flavor spells them (as capture/mysql).
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// Config configures a MySQL/MariaDB snapshot source.
type Config struct {
	// Addr is host:port of the server.
	Addr string
	User string
	// Password is never logged nor put in errors.
	Password string
	// Flavor is FlavorMySQL or FlavorMariaDB (default FlavorMySQL); it
	// must match the server.
	Flavor string
	// Tables are the "db.table" names to snapshot.
	Tables []string
	// Version is the source block's "version" (default "sluice").
	Version string
	// MaxConns bounds the connection pool (default 8): one per open view,
	// plus catalog and boundary queries.
	MaxConns int
}

// Source is the MySQL/MariaDB snapshot.Source. Safe for concurrent use.
type Source struct {
	cfg     Config
	log     *slog.Logger
	db      *sql.DB
	version string // SELECT VERSION()

	mu     sync.Mutex
	tables map[schemas.TableID]*myTable
}

var _ snapshot.ExclusiveViewer = (*Source)(nil)

// myTable is what reading a table needs beyond snapshot.Table.
type myTable struct {
	t       *snapshot.Table
	rel     string   // quoted db.table
	cols    []string // quoted column names, table order
	keyCols []string // quoted key column names, key order
	// keyBinary marks key columns compared as bytes: their bounds are hex
	// (plans are JSON, which cannot hold arbitrary bytes).
	keyBinary []bool
	columns   []mysqltype.Column
}

// New opens a connection pool and checks the server's flavor. Close it
// when done.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Source, error) {
	if cfg.Addr == "" {
		return nil, errors.New("mysql snapshot: Addr is empty")
	}
	if cfg.User == "" {
		return nil, errors.New("mysql snapshot: User is empty")
	}
	switch cfg.Flavor {
	case "":
		cfg.Flavor = FlavorMySQL
	case FlavorMySQL, FlavorMariaDB:
	default:
		return nil, fmt.Errorf("mysql snapshot: flavor %q: want %q or %q", cfg.Flavor, FlavorMySQL, FlavorMariaDB)
	}
	if len(cfg.Tables) == 0 {
		return nil, errors.New("mysql snapshot: no tables")
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
	dc := gosql.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr = cfg.User, cfg.Password, "tcp", cfg.Addr
	// TIMESTAMP text in UTC, as the decoders expect; text as utf8mb4 (the
	// server converts latin1 columns).
	dc.Params = map[string]string{"time_zone": "'+00:00'"}
	dc.Collation = "utf8mb4_general_ci"
	dc.Timeout = 10 * time.Second
	conn, err := gosql.NewConnector(dc)
	if err != nil {
		return nil, errors.New("mysql snapshot: invalid connection settings")
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetMaxIdleConns(cfg.MaxConns)
	s := &Source{cfg: cfg, log: logger, db: db, tables: map[schemas.TableID]*myTable{}}
	if err := db.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&s.version); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql snapshot: connect to %s: %w", cfg.Addr, err)
	}
	if isMaria := strings.Contains(strings.ToLower(s.version), "mariadb"); isMaria != (cfg.Flavor == FlavorMariaDB) {
		db.Close()
		return nil, fmt.Errorf("mysql snapshot: server %s is %q but flavor is %q", cfg.Addr, s.version, cfg.Flavor)
	}
	return s, nil
}

// Close closes the connection pool.
func (s *Source) Close() error { return s.db.Close() }

// Connector implements snapshot.Source.
func (s *Source) Connector() string {
	if s.cfg.Flavor == FlavorMariaDB {
		return schemas.ConnectorMariaDB
	}
	return schemas.ConnectorMySQL
}

// ExclusiveViews implements snapshot.ExclusiveViewer: a view is one
// connection's transaction and reads one chunk at a time.
func (s *Source) ExclusiveViews() {}

// Tables implements snapshot.Source from information_schema: columns
// mapped by schemas/mysqltype (as capture maps them), the primary key, and
// TABLE_ROWS as the estimate. Every table has PartialImages set when the
// server's global binlog_row_image is not FULL (MINIMAL, NOBLOB, MariaDB's
// FULL_NODUP): its row events may then lack columns. A session can set
// its own binlog_row_image, which this cannot see (snapshot.Config's
// PartialImagesAlways covers that).
func (s *Source) Tables(ctx context.Context) ([]*snapshot.Table, error) {
	var image string
	if err := s.db.QueryRowContext(ctx, `SELECT @@GLOBAL.binlog_row_image`).Scan(&image); err != nil {
		return nil, fmt.Errorf("read binlog_row_image: %w", err)
	}
	partial := !strings.EqualFold(image, "FULL")
	out := make([]*snapshot.Table, 0, len(s.cfg.Tables))
	for _, name := range s.cfg.Tables {
		mt, err := s.describe(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		mt.t.PartialImages = partial
		s.mu.Lock()
		s.tables[mt.t.ID] = mt
		s.mu.Unlock()
		out = append(out, mt.t)
	}
	return out, nil
}

func (s *Source) describe(ctx context.Context, name string) (*myTable, error) {
	dbName, tbl, ok := strings.Cut(name, ".")
	if !ok || dbName == "" || tbl == "" {
		return nil, errors.New(`want "db.table"`)
	}
	var rows sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, dbName, tbl).Scan(&dbName, &tbl, &rows)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("no such table")
	}
	if err != nil {
		return nil, err
	}
	jsonCols := map[string]bool{}
	if s.cfg.Flavor == FlavorMariaDB {
		// MariaDB's JSON is LONGTEXT with a json_valid() check constraint.
		r, err := s.db.QueryContext(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
			WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, dbName, tbl)
		if err != nil {
			return nil, fmt.Errorf("read check constraints: %w", err)
		}
		for r.Next() {
			var clause string
			if err := r.Scan(&clause); err != nil {
				r.Close()
				return nil, err
			}
			if m := jsonValidRE.FindStringSubmatch(clause); m != nil {
				jsonCols[strings.ToLower(m[1])] = true
			}
		}
		if err := r.Close(); err != nil {
			return nil, err
		}
	}
	r, err := s.db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IFNULL(CHARACTER_SET_NAME, ''), IS_NULLABLE,
			IFNULL(NUMERIC_PRECISION, 0), IFNULL(NUMERIC_SCALE, 0), IFNULL(DATETIME_PRECISION, 0)
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, dbName, tbl)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	mt := &myTable{rel: quoteIdent(dbName) + "." + quoteIdent(tbl)}
	t := &snapshot.Table{ID: schemas.TableID{Database: dbName, Table: tbl}}
	for r.Next() {
		var cc mysqltype.CatalogColumn
		var nullable string
		if err := r.Scan(&cc.Name, &cc.DataType, &cc.ColumnType, &cc.Charset, &nullable, &cc.Precision, &cc.Scale, &cc.FSP); err != nil {
			r.Close()
			return nil, err
		}
		cc.Nullable = nullable == "YES"
		cc.JSON = jsonCols[strings.ToLower(cc.Name)]
		def, err := mysqltype.CatalogDef(cc)
		if err != nil {
			r.Close()
			return nil, err
		}
		col, err := mysqltype.NewColumn(def)
		if err != nil {
			r.Close()
			return nil, err
		}
		// The server converts latin1 text to the connection's utf8mb4.
		col.Latin1 = false
		mt.columns = append(mt.columns, col)
		mt.cols = append(mt.cols, quoteIdent(cc.Name))
		t.Columns = append(t.Columns, col.Column)
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	if len(t.Columns) == 0 {
		return nil, errors.New("no columns (no such table, or no privilege on it)")
	}
	r, err = s.db.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, dbName, tbl)
	if err != nil {
		return nil, fmt.Errorf("read primary key: %w", err)
	}
	for r.Next() {
		var k string
		if err := r.Scan(&k); err != nil {
			r.Close()
			return nil, err
		}
		t.Key = append(t.Key, k)
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	if len(t.Key) == 0 {
		return nil, errors.New("no primary key: cannot chunk by key ranges")
	}
	for _, k := range t.Key {
		i := columnIndex(t, k)
		if i < 0 {
			return nil, fmt.Errorf("primary key column %q not among the columns", k)
		}
		c := mt.columns[i]
		switch c.Kind {
		case mysqltype.KindEnum, mysqltype.KindSet, mysqltype.KindBool, mysqltype.KindBits, mysqltype.KindJSON:
			// ENUM sorts by index but compares with text as text: ranges
			// on it would not follow ORDER BY.
			return nil, fmt.Errorf("primary key column %q: type %s cannot be chunked", k, c.SourceType)
		}
		mt.keyCols = append(mt.keyCols, quoteIdent(k))
		mt.keyBinary = append(mt.keyBinary, c.Kind == mysqltype.KindBytes)
	}
	t.EstimatedRows = rows.Int64
	mt.t = t
	return mt, nil
}

func columnIndex(t *snapshot.Table, name string) int {
	for i, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

func (s *Source) table(t *snapshot.Table) (*myTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mt, ok := s.tables[t.ID]
	if !ok {
		return nil, fmt.Errorf("table %s: not listed by Tables", t.ID)
	}
	return mt, nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
