package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/snapshot"
)

// The recheck pass (see snapshot/recheck.go) re-reads the rows whose
// current version was written after the table's snapshot began. In
// PostgreSQL every row version carries xmin, the id of the transaction
// that wrote it (an UPDATE, key changes included, writes a new version),
// so "written after" is a condition on xmin.
//
// The mark is the xmin of a fresh MVCC snapshot as a 64-bit,
// epoch-extended transaction id (xid8): M = pg_snapshot_xmin(
// pg_current_snapshot()). Every transaction id below M has ended when the
// mark is taken, so a row version with an xmin below M was committed
// before the first view of the table opened; every transaction that
// writes later, or was still running then, has an id ≥ M (subtransaction
// ids are assigned after their parent's).
//
// xmin itself is only the low 32 bits of the id and wraps around, and
// freezing keeps it (PostgreSQL ≥ 9.4 sets a hint bit; older releases
// stored FrozenTransactionId, 2). So the pass compares modulo 2^32 within
// the window [M, X), X the xmax (next unassigned id) of the pass's own
// view: every version visible there was written by an id < X. A row is
// selected when (xmin − M) mod 2^32 < X − M. Every version written by an
// id in [M, X) has (xmin − M) mod 2^32 = id − M < X − M, so it is
// selected: the pass never reads fewer rows than it must. A version
// written before M is selected only when its 32-bit xmin lands in the
// window modulo 2^32 (a frozen or very old row whose id is 2^32 − (X−M)
// or more ids older than M, or a pre-9.4 frozen xmin of 2): then it is
// read again needlessly, which is harmless. When X − M ≥ 2^32 (more than
// four billion transactions during one snapshot) the window covers every
// xmin, and the pass reads the whole table. age(xmin) would say the same
// but returns int32 and saturates for special ids, and the window is
// simpler to state.

// RecheckMark implements snapshot.Rechecker: the decimal xid8 of the
// oldest transaction still running (see above).
func (s *Source) RecheckMark(ctx context.Context) (string, error) {
	var mark string
	if err := s.pool.QueryRow(ctx, `SELECT `+s.snapshotXid("xmin")+`::text`).Scan(&mark); err != nil {
		return "", err
	}
	return mark, nil
}

// snapshotXid is the SQL for the 64-bit xmin or xmax (part) of the
// current snapshot: the xid8 functions of PostgreSQL 13 and later, the
// txid_ ones (same values, bigint) before.
func (s *Source) snapshotXid(part string) string {
	if s.serverVersion >= 130000 {
		return "pg_snapshot_" + part + "(pg_current_snapshot())"
	}
	return "txid_snapshot_" + part + "(txid_current_snapshot())"
}

// ReadChanged implements snapshot.RecheckReader: one transaction in the
// view's snapshot reads its xmax, then COPYs the rows of t (matching
// t.Where) that changedSince selects. No ORDER BY: xmin has no index, the
// scan is sequential, and the rows' order does not matter to the merge.
func (v *view) ReadChanged(ctx context.Context, t *snapshot.Table, mark string, emit func(row []any) error) error {
	from, err := strconv.ParseUint(mark, 10, 64)
	if err != nil {
		return fmt.Errorf("recheck mark %q: not a transaction id", mark)
	}
	return v.inSnapshot(ctx, t, emit, func(pc *pgconn.PgConn, pt *pgTable) (string, error) {
		res, err := pc.Exec(ctx, `SELECT `+v.s.snapshotXid("xmax")+`::text`).ReadAll()
		if err != nil {
			return "", fmt.Errorf("snapshot xmax: %w", err)
		}
		if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1 {
			return "", errors.New("snapshot xmax: unexpected reply")
		}
		to, err := strconv.ParseUint(string(res[0].Rows[0][0]), 10, 64)
		if err != nil {
			return "", fmt.Errorf("snapshot xmax: %w", err)
		}
		return changedQuery(pt, t.Where, changedSince(from, to)), nil
	})
}

// changedSince is the condition on xmin that selects every row version
// written by a transaction id in [from, to) (see above); "" selects every
// row.
func changedSince(from, to uint64) string {
	switch {
	case to == from:
		return "false" // no id was assigned in between
	case to < from || to-from >= 1<<32:
		// to < from: the mark is not from this server's history (a
		// restored or different cluster); read everything.
		return ""
	}
	return fmt.Sprintf("((xmin::text::bigint - %d) & 4294967295) < %d", from&0xFFFFFFFF, to-from)
}

// changedQuery is the COPY statement of the recheck pass.
func changedQuery(pt *pgTable, where, cond string) string {
	var b strings.Builder
	b.WriteString("COPY (SELECT ")
	b.WriteString(strings.Join(pt.cols, ", "))
	b.WriteString(" FROM ")
	b.WriteString(pt.rel)
	b.WriteString(whereClause(where, cond))
	b.WriteString(") TO STDOUT")
	return b.String()
}
