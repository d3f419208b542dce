package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/schemas/mysqltype"
	"github.com/sluicehq/sluice/snapshot"
)

var jsonValidRE = regexp.MustCompile("^json_valid\\(`([^`]+)`\\)$")

// keyParam is how one key column's bound is passed: the placeholder SQL and
// the argument made from the bound's text. Arguments are typed so that the
// server compares in the column's own type (MySQL compares an integer or
// DECIMAL column with a string as doubles, which loses precision).
func keyParam(c mysqltype.Column, binary bool, text string) (string, any, error) {
	switch {
	case binary:
		return "UNHEX(?)", text, nil
	case c.Kind == mysqltype.KindInt16 || c.Kind == mysqltype.KindInt32 || c.Kind == mysqltype.KindInt64 ||
		c.Kind == mysqltype.KindYear:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return "", nil, fmt.Errorf("key bound %q: %w", text, err)
		}
		return "?", n, nil
	case c.Kind == mysqltype.KindUint64Decimal:
		n, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return "", nil, fmt.Errorf("key bound %q: %w", text, err)
		}
		return "?", n, nil
	case c.Kind == mysqltype.KindDecimal:
		p, s := c.Params["connect.decimal.precision"], c.Params["scale"]
		return "CAST(? AS DECIMAL(" + p + "," + s + "))", text, nil
	case c.Kind == mysqltype.KindFloat32 || c.Kind == mysqltype.KindFloat64:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return "", nil, fmt.Errorf("key bound %q: %w", text, err)
		}
		return "?", f, nil
	}
	return "?", text, nil
}

// boundText is the text form of a key value as the driver returned it
// (binary protocol): integers in decimal, floats exactly (FLOAT widened to
// double, as the server widens the column to compare it), bytes as text or,
// for binary keys, hex.
func boundText(v any, binary bool) (string, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 64), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("key value %v", x)
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case []byte:
		if binary {
			return hex.EncodeToString(x), nil
		}
		return string(x), nil
	case string:
		if binary {
			return hex.EncodeToString([]byte(x)), nil
		}
		return x, nil
	case nil:
		return "", errors.New("null primary-key value")
	}
	return "", fmt.Errorf("key value of Go type %T", v)
}

// rangePredicate renders lo < (keys) <= hi as nested comparisons,
// (a > ? OR (a = ? AND b > ?)), which the range optimizer turns into
// primary-key ranges (row-value comparisons (a,b) > (?,?) are not
// always). Key columns are NOT NULL, so this equals the row comparison.
// Nil bounds are open; "" means no condition.
func rangePredicate(mt *myTable, lo, hi snapshot.Bound) (string, []any, error) {
	var conds []string
	var args []any
	for _, side := range []struct {
		b         snapshot.Bound
		strict    string // comparison before the last column
		lastCmp   string // comparison at the last column
		isDefined bool
	}{{lo, ">", ">", lo != nil}, {hi, "<", "<=", hi != nil}} {
		if !side.isDefined {
			continue
		}
		if len(side.b) != len(mt.keyCols) {
			return "", nil, fmt.Errorf("bound has %d values for a %d-column key", len(side.b), len(mt.keyCols))
		}
		var sb strings.Builder
		var a []any
		n := len(mt.keyCols)
		for i := 0; i < n; i++ {
			ph, arg, err := keyParam(mt.columns[columnIndex(mt.t, unquote(mt.keyCols[i]))], mt.keyBinary[i], side.b[i])
			if err != nil {
				return "", nil, err
			}
			if i == n-1 {
				sb.WriteString(mt.keyCols[i] + " " + side.lastCmp + " " + ph)
				a = append(a, arg)
				break
			}
			sb.WriteString("(" + mt.keyCols[i] + " " + side.strict + " " + ph + " OR (" + mt.keyCols[i] + " = " + ph + " AND ")
			a = append(a, arg, arg)
		}
		sb.WriteString(strings.Repeat("))", n-1))
		conds = append(conds, sb.String())
		args = append(args, a...)
	}
	return strings.Join(conds, " AND "), args, nil
}

func unquote(q string) string {
	return strings.ReplaceAll(q[1:len(q)-1], "``", "`")
}

// whereClause joins the key range and the table's Where.
func whereClause(mt *myTable, lo, hi snapshot.Bound, where string) (string, []any, error) {
	pred, args, err := rangePredicate(mt, lo, hi)
	if err != nil {
		return "", nil, err
	}
	var conds []string
	if pred != "" {
		conds = append(conds, pred)
	}
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// chunkQuery is the SELECT of one chunk, in primary-key order.
func chunkQuery(mt *myTable, c snapshot.Chunk, where string) (string, []any, error) {
	w, args, err := whereClause(mt, c.Lo, c.Hi, where)
	if err != nil {
		return "", nil, err
	}
	return "SELECT " + strings.Join(mt.cols, ", ") + " FROM " + mt.rel + " FORCE INDEX (PRIMARY)" + w +
		" ORDER BY " + strings.Join(mt.keyCols, ", "), args, nil
}

// Boundaries implements snapshot.Source by walking the primary key: each
// boundary is the step-th key after the previous one
// (… WHERE key > prev ORDER BY key LIMIT 1 OFFSET step-1), so chunks hold
// step rows each however the keys are spread. The server reads the key
// range once in total and sends only the boundaries. step is the row
// estimate (an exact count of the Where slice when Where is set) over
// chunks. No transaction is held.
func (s *Source) Boundaries(ctx context.Context, t *snapshot.Table, chunks int) ([]snapshot.Bound, error) {
	mt, err := s.table(t)
	if err != nil {
		return nil, err
	}
	if chunks <= 1 {
		return nil, nil
	}
	total := t.EstimatedRows
	if t.Where != "" {
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+mt.rel+" WHERE ("+t.Where+")").Scan(&total); err != nil {
			return nil, fmt.Errorf("count rows: %w", err)
		}
	}
	step := max(total/int64(chunks), 1)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []snapshot.Bound
	var prev snapshot.Bound
	for len(out) < chunks-1 {
		w, args, err := whereClause(mt, prev, nil, t.Where)
		if err != nil {
			return nil, err
		}
		q := "SELECT " + strings.Join(mt.keyCols, ", ") + " FROM " + mt.rel + " FORCE INDEX (PRIMARY)" + w +
			" ORDER BY " + strings.Join(mt.keyCols, ", ") + " LIMIT 1 OFFSET " + strconv.FormatInt(step-1, 10)
		vals := make([]any, len(mt.keyCols))
		dst := make([]any, len(vals))
		for i := range vals {
			dst[i] = &vals[i]
		}
		// A prepared statement even without arguments: the binary
		// protocol returns FLOAT keys exactly.
		stmt, err := conn.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		err = stmt.QueryRowContext(ctx, args...).Scan(dst...)
		stmt.Close()
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, err
		}
		b := make(snapshot.Bound, len(vals))
		for i, v := range vals {
			if b[i], err = boundText(v, mt.keyBinary[i]); err != nil {
				return nil, err
			}
		}
		out = append(out, b)
		prev = b
	}
	return out, nil
}
