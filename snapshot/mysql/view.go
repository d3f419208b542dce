package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// view is one connection holding a consistent-snapshot transaction (see
// the package doc). Its chunks are read one at a time on that connection.
type view struct {
	s   *Source
	pos schemas.Source

	mu   sync.Mutex
	conn *sql.Conn // nil once closed
}

// OpenView implements snapshot.Source: a dedicated connection starts a
// REPEATABLE READ transaction WITH CONSISTENT SNAPSHOT and reads the binlog
// position exactly consistent with it (MariaDB: binlog_snapshot_file and
// _position, no lock; MySQL: under a brief LOCK TABLES … READ of the
// snapshotted tables held by a second connection).
func (s *Source) OpenView(ctx context.Context) (snapshot.View, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set isolation: %w", err)
	}
	var file string
	var pos uint64
	if s.cfg.Flavor == FlavorMariaDB {
		file, pos, err = s.mariadbSnapshot(ctx, conn)
	} else {
		file, pos, err = s.mysqlSnapshot(ctx, conn)
	}
	if err != nil {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		return nil, err
	}
	if _, err := schemas.BinlogSequence(file); err != nil {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		return nil, fmt.Errorf("snapshot position: %w", err)
	}
	return &view{
		s: s, conn: conn,
		pos: schemas.Source{
			Version:   s.cfg.Version,
			Connector: s.Connector(),
			TsMs:      time.Now().UnixMilli(),
			File:      file,
			Pos:       pos,
		},
	}, nil
}

// mariadbSnapshot: MariaDB's binlog_snapshot_file/position session status
// is the binlog position of the snapshot START TRANSACTION WITH CONSISTENT
// SNAPSHOT took (engine commits and binlog are in the same order).
func (s *Source) mariadbSnapshot(ctx context.Context, conn *sql.Conn) (string, uint64, error) {
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return "", 0, fmt.Errorf("start consistent snapshot: %w", err)
	}
	rows, err := conn.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return "", 0, fmt.Errorf("read binlog_snapshot position: %w", err)
	}
	defer rows.Close()
	var file, pos string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return "", 0, fmt.Errorf("read binlog_snapshot position: %w", err)
		}
		switch strings.ToLower(k) {
		case "binlog_snapshot_file":
			file = v
		case "binlog_snapshot_position":
			pos = v
		}
	}
	if err := rows.Err(); err != nil {
		return "", 0, fmt.Errorf("read binlog_snapshot position: %w", err)
	}
	if file == "" {
		return "", 0, errors.New("binlog_snapshot_file is empty: the server writes no binlog")
	}
	p, err := strconv.ParseUint(pos, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("binlog_snapshot_position %q: %w", pos, err)
	}
	return file, p, nil
}

// mysqlSnapshot: MySQL has no binlog_snapshot_* status. A second
// connection holds LOCK TABLES … READ on the snapshotted tables while this
// one starts its snapshot and reads the binlog position; no transaction
// can write those tables in between (writers that already did hold their
// metadata locks until their commit is in the binlog and the engine, so
// the lock waits for them). Ordering keys compare changes of one table
// only, so a position exact for these tables is all that is needed;
// writes to other tables go on. Unlike FLUSH TABLES WITH READ LOCK it
// does not wait for running SELECTs (other views' chunks) nor stop the
// whole server.
func (s *Source) mysqlSnapshot(ctx context.Context, conn *sql.Conn) (string, uint64, error) {
	locker, err := s.db.Conn(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("connect: %w", err)
	}
	defer locker.Close()
	var rels []string
	for _, name := range s.cfg.Tables {
		db, tbl, _ := strings.Cut(name, ".")
		rels = append(rels, quoteIdent(db)+"."+quoteIdent(tbl)+" READ")
	}
	if _, err := locker.ExecContext(ctx, "LOCK TABLES "+strings.Join(rels, ", ")); err != nil {
		return "", 0, fmt.Errorf("lock tables: %w", err)
	}
	defer func() { _, _ = locker.ExecContext(context.Background(), "UNLOCK TABLES") }()
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return "", 0, fmt.Errorf("start consistent snapshot: %w", err)
	}
	q := statusQuery(s.version)
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", q, err)
	}
	if !rows.Next() {
		return "", 0, fmt.Errorf("%s: no rows (binlog disabled?)", q)
	}
	vals := make([]sql.RawBytes, len(cols))
	dst := make([]any, len(cols))
	for i := range vals {
		dst[i] = &vals[i]
	}
	if err := rows.Scan(dst...); err != nil || len(vals) < 2 {
		return "", 0, fmt.Errorf("%s: %v", q, err)
	}
	file := string(vals[0])
	p, err := strconv.ParseUint(string(vals[1]), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%s: position %q: %w", q, vals[1], err)
	}
	return file, p, nil
}

// statusQuery returns the statement that reports the binlog file and
// position: MySQL 8.2 renamed SHOW MASTER STATUS to SHOW BINARY LOG STATUS
// (8.4 removed the old name).
func statusQuery(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) >= 2 {
		major, _ := strconv.Atoi(parts[0])
		end := 0
		for end < len(parts[1]) && parts[1][end] >= '0' && parts[1][end] <= '9' {
			end++
		}
		minor, _ := strconv.Atoi(parts[1][:end])
		if major > 8 || major == 8 && minor >= 2 {
			return "SHOW BINARY LOG STATUS"
		}
	}
	return "SHOW MASTER STATUS"
}

// Position implements snapshot.View: File and Pos of the snapshot, Row 0,
// so the ordering key is MySQLOrderingKey(file, P, 0). See the package doc
// for why that is exact.
func (v *view) Position() schemas.Source { return v.pos }

// Close implements snapshot.View: ends the transaction and returns the
// connection. Idempotent.
func (v *view) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn == nil {
		return nil
	}
	_, rerr := v.conn.ExecContext(context.Background(), "ROLLBACK")
	err := v.conn.Close()
	v.conn = nil
	if rerr != nil && !errors.Is(rerr, driver.ErrBadConn) {
		return fmt.Errorf("end snapshot transaction: %w", rerr)
	}
	return err
}

// ReadChunk implements snapshot.View: one prepared SELECT of the key range
// in primary-key order, streamed row by row from the driver (binary
// protocol: FLOAT and DOUBLE arrive exactly) and decoded with the shared
// schemas/mysqltype mapping. Calls are serialised: a view is one
// connection.
func (v *view) ReadChunk(ctx context.Context, t *snapshot.Table, c snapshot.Chunk, emit func(row []any) error) error {
	mt, err := v.s.table(t)
	if err != nil {
		return err
	}
	q, args, err := chunkQuery(mt, c, t.Where)
	if err != nil {
		return fmt.Errorf("chunk query: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn == nil {
		return errors.New("view closed")
	}
	return v.conn.Raw(func(dc any) error {
		return readRows(ctx, dc, q, args, mt, emit)
	})
}

// readRows runs q on the driver connection dc and streams its rows.
func readRows(ctx context.Context, dc any, q string, args []any, mt *myTable, emit func(row []any) error) error {
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return errors.New("driver connection cannot prepare")
	}
	stmt, err := pc.PrepareContext(ctx, q)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer stmt.Close()
	sq, ok := stmt.(driver.StmtQueryContext)
	if !ok {
		return errors.New("driver statement cannot query")
	}
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	rows, err := sq.QueryContext(ctx, named)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, len(mt.columns))
	row := make([]any, len(mt.columns))
	var n int64
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read row %d: %w", n, err)
		}
		n++
		for i := range dest {
			if row[i], err = decode(&mt.columns[i], dest[i]); err != nil {
				return fmt.Errorf("row %d column %q: %w", n, mt.columns[i].Name, err)
			}
		}
		if err := emit(row); err != nil {
			return err
		}
	}
}
