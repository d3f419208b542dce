package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// view is one exported snapshot (see Source.OpenView).
type view struct {
	s            *Source
	snapshotName string
	pos          schemas.Source

	mu   sync.Mutex
	conn *pgconn.PgConn // the replication connection holding the snapshot
}

// Position implements snapshot.View: CommitLSN = the consistent point P,
// LSN 0, so the ordering key is (P, 0). See the package doc for why that
// is exact.
func (v *view) Position() schemas.Source { return v.pos }

// Close implements snapshot.View: disconnecting ends the exported
// snapshot and drops the temporary slot.
func (v *view) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn == nil {
		return nil
	}
	err := v.conn.Close(context.Background())
	v.conn = nil
	if err != nil {
		return fmt.Errorf("close replication connection: %w", err)
	}
	return nil
}

// ReadChunk implements snapshot.View: one REPEATABLE READ, READ ONLY
// transaction on a pooled connection imports the exported snapshot and
// streams COPY (SELECT … WHERE key range ORDER BY key) TO STDOUT in text
// form, decoded with the same text decoders as capture's pgoutput values.
// The transaction ends with the chunk.
func (v *view) ReadChunk(ctx context.Context, t *snapshot.Table, c snapshot.Chunk, emit func(row []any) error) error {
	return v.inSnapshot(ctx, t, emit, func(_ *pgconn.PgConn, pt *pgTable) (string, error) {
		return chunkQuery(pt, t.Where, c), nil
	})
}

// inSnapshot runs, in one REPEATABLE READ, READ ONLY transaction that
// imports the view's snapshot, the COPY … TO STDOUT statement query
// returns (query may run statements of its own first), and emits its
// rows decoded. The transaction ends with the read.
func (v *view) inSnapshot(ctx context.Context, t *snapshot.Table, emit func(row []any) error, query func(pc *pgconn.PgConn, pt *pgTable) (string, error)) error {
	pt, err := v.s.table(t)
	if err != nil {
		return err
	}
	conn, err := v.s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	pc := conn.Conn().PgConn()
	// One simple-protocol round trip: BEGIN and SET TRANSACTION SNAPSHOT
	// must be the transaction's first statements.
	if err := pc.Exec(ctx, `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT `+quoteLiteral(v.snapshotName)).Close(); err != nil {
		_ = pc.Exec(context.Background(), "ROLLBACK").Close()
		return fmt.Errorf("import snapshot: %w", err)
	}
	sql, err := query(pc, pt)
	if err == nil {
		cr := &copyRows{decoders: pt.decoders, names: columnNames(t), emit: emit}
		if _, err = pc.CopyTo(ctx, cr, sql); err == nil {
			err = cr.done()
		}
		if err != nil {
			err = fmt.Errorf("copy: %w", err)
		}
	}
	if err != nil {
		_ = pc.Exec(context.Background(), "ROLLBACK").Close()
		return err
	}
	if err := pc.Exec(ctx, "COMMIT").Close(); err != nil {
		return fmt.Errorf("end snapshot transaction: %w", err)
	}
	return nil
}

func columnNames(t *snapshot.Table) []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// chunkQuery is the COPY statement of one chunk: the key range as
// row-value comparisons, which PostgreSQL evaluates in the primary-key
// index's order and can use as index bounds.
func chunkQuery(pt *pgTable, where string, c snapshot.Chunk) string {
	var b strings.Builder
	b.WriteString("COPY (SELECT ")
	b.WriteString(strings.Join(pt.cols, ", "))
	b.WriteString(" FROM ")
	b.WriteString(pt.rel)
	b.WriteString(whereClause(where, rangePredicate(pt.keyCols, pt.keyTypes, c.Lo, c.Hi)))
	b.WriteString(" ORDER BY ")
	b.WriteString(strings.Join(pt.keyCols, ", "))
	b.WriteString(") TO STDOUT")
	return b.String()
}

// whereClause renders " WHERE (where) AND rng" with whichever parts are
// not empty, or "". The operator's predicate is parenthesised so an OR in
// it cannot escape the key range.
func whereClause(where, rng string) string {
	var conds []string
	if strings.TrimSpace(where) != "" {
		conds = append(conds, "("+where+")")
	}
	if rng != "" {
		conds = append(conds, rng)
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// rangePredicate renders lo < (keys) <= hi; nil bounds are open.
func rangePredicate(keys, types []string, lo, hi snapshot.Bound) string {
	row := "(" + strings.Join(keys, ", ") + ")"
	lit := func(b snapshot.Bound) string {
		parts := make([]string, len(b))
		for i, v := range b {
			parts[i] = quoteLiteral(v) + "::" + types[i]
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	var conds []string
	if lo != nil {
		conds = append(conds, row+" > "+lit(lo))
	}
	if hi != nil {
		conds = append(conds, row+" <= "+lit(hi))
	}
	return strings.Join(conds, " AND ")
}
