package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// This file is the one normalized form `validate --table` compares in.
// Source rows (Debezium values from snapshot.View.ReadChunk) go through
// schemas.ToDeltaValue, exactly as the merge converts change events, and are
// then conformed to the SCD1 column's Delta type (the table may have been
// widened since); lake rows come typed by the SCD1 schema. Both are then
// written as type-tagged canonical bytes: 1 (long) and "1" (string) differ,
// an int and a long of equal value do not (widening keeps values).

// compareColumn is one source column that the SCD1 table also has.
type compareColumn struct {
	src      int // index in snapshot.Table.Columns / a source row
	lake     int // index in the SCD1 schema / a lake row
	col      schemas.Column
	lakeType lakelog.DataType
}

// sourceConverter converts source rows (Debezium values, aligned with
// snapshot.Table.Columns) to SCD1 values of the compared columns. It
// encodes the row with schemas.EncodeValue and reads it back with
// schemas.DecodeEnvelope and ToDeltaValue: the path change events take to
// the merge. Not safe for concurrent use.
type sourceConverter struct {
	cols []compareColumn
	ch   schemas.Change
}

func newSourceConverter(t *snapshot.Table, cols []compareColumn, pos schemas.Source) *sourceConverter {
	sc := &sourceConverter{cols: cols}
	sc.ch = schemas.Change{Table: t.ID, Op: schemas.OpRead, Columns: t.Columns, Source: pos}
	sc.ch.Source.DB, sc.ch.Source.Schema, sc.ch.Source.Table = t.ID.Database, t.ID.Schema, t.ID.Table
	return sc
}

// convert writes the SCD1 value of each compared column of row into out
// (aligned with cols).
func (sc *sourceConverter) convert(row []any, out []any) error {
	sc.ch.After = row
	val, err := schemas.EncodeValue(&sc.ch, false)
	if err != nil {
		return err
	}
	env, err := schemas.DecodeEnvelope(val)
	if err != nil {
		return err
	}
	if len(env.After) != len(sc.ch.Columns) {
		return fmt.Errorf("encoded row has %d columns, the table %d", len(env.After), len(sc.ch.Columns))
	}
	for i := range sc.cols {
		c := &sc.cols[i]
		f := env.After[c.src]
		if f.Name != c.col.Name {
			return fmt.Errorf("encoded row: column %d is %q, want %q", c.src, f.Name, c.col.Name)
		}
		v, err := schemas.ToDeltaValue(c.col, f.Raw)
		if err != nil {
			return err
		}
		if out[i], err = conform(v, c.col, c.lakeType); err != nil {
			return err
		}
	}
	return nil
}

// conform converts a Delta value of the source column's own type to the
// SCD1 column's type t, as the merge does when the table is wider.
func conform(v any, col schemas.Column, t lakelog.DataType) (any, error) {
	v = canonValue(v)
	p, ok := t.(*lakelog.PrimitiveType)
	if !ok || v == nil {
		return v, nil
	}
	switch p.Name {
	case "double", "float":
		if n, ok := v.(int64); ok {
			return float64(n), nil
		}
	case "decimal":
		switch x := v.(type) {
		case int64:
			return new(big.Int).Mul(big.NewInt(x), pow10(p.Scale)), nil
		case *big.Int:
			from := 0
			if s, err := strconv.Atoi(col.Params["scale"]); err == nil {
				from = s
			}
			if p.Scale > from {
				return new(big.Int).Mul(x, pow10(p.Scale-from)), nil
			}
			if p.Scale < from {
				return nil, fmt.Errorf("column %q: source scale %d is larger than the SCD1 table's decimal(%d,%d)", col.Name, from, p.Precision, p.Scale)
			}
		}
	}
	return v, nil
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// canonValue maps every integer width to int64 and float32 to float64, so
// that values compare across widened types.
func canonValue(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonValue(e)
		}
		return out
	}
	return v
}

// appendCanon appends the type-tagged canonical bytes of a canonValue.
func appendCanon(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'N')
	case bool:
		if x {
			return append(b, 'B', 1)
		}
		return append(b, 'B', 0)
	case int64:
		return binary.AppendVarint(append(b, 'I'), x)
	case float64:
		bits := math.Float64bits(x)
		if math.IsNaN(x) {
			bits = 0x7ff8000000000001
		}
		return binary.BigEndian.AppendUint64(append(b, 'F'), bits)
	case string:
		b = binary.AppendUvarint(append(b, 'S'), uint64(len(x)))
		return append(b, x...)
	case []byte:
		b = binary.AppendUvarint(append(b, 'Y'), uint64(len(x)))
		return append(b, x...)
	case time.Time:
		return binary.AppendVarint(append(b, 'T'), x.UnixMicro())
	case *big.Int:
		s := x.String()
		b = binary.AppendUvarint(append(b, 'D'), uint64(len(s)))
		return append(b, s...)
	case []any:
		b = binary.AppendUvarint(append(b, 'A'), uint64(len(x)))
		for _, e := range x {
			b = appendCanon(b, canonValue(e))
		}
		return b
	}
	s := fmt.Sprintf("%T:%v", v, v)
	b = binary.AppendUvarint(append(b, 'X'), uint64(len(s)))
	return append(b, s...)
}

// rowDigest is the 128-bit digest of one row's canonical bytes.
type rowDigest [2]uint64

func digestOf(canon []byte) rowDigest {
	sum := sha256.Sum256(canon)
	return rowDigest{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])}
}

// rangeSum accumulates a key range: its row count and the sum (mod 2^128)
// of its row digests, which does not depend on the order rows come in and,
// unlike XOR, does not cancel duplicated rows.
type rangeSum struct {
	rows int64
	sum  rowDigest
}

func (r *rangeSum) add(d rowDigest) {
	r.rows++
	lo := r.sum[1] + d[1]
	carry := uint64(0)
	if lo < r.sum[1] {
		carry = 1
	}
	r.sum[1] = lo
	r.sum[0] += d[0] + carry
}

func (r rangeSum) hex() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.sum[0])
	binary.BigEndian.PutUint64(b[8:], r.sum[1])
	return hex.EncodeToString(b[:])
}

// compareKeys orders two normalized keys (canonValue values) the way
// routing needs: numbers by value, strings and bytes bytewise, times by
// instant, nil first. Both sides of the comparison are routed with it, so
// it need not match the source's collation (see tablecheck.go).
func compareKeys(a, b []any) int {
	for i := range min(len(a), len(b)) {
		if c := compareValue(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func compareValue(a, b any) int {
	switch x := a.(type) {
	case nil:
		if b == nil {
			return 0
		}
		return -1
	case int64:
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmpOrdered(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case *big.Int:
		if y, ok := b.(*big.Int); ok {
			return x.Cmp(y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	if b == nil {
		return 1
	}
	// Mixed types: any fixed order will do, both sides use it.
	return bytes.Compare(appendCanon(nil, a), appendCanon(nil, b))
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// displayValue formats a normalized value for reports.
func displayValue(v any, t lakelog.DataType) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		return "\\x" + hex.EncodeToString(x)
	case time.Time:
		if p, ok := t.(*lakelog.PrimitiveType); ok && p.Name == "date" {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339Nano)
	case *big.Int:
		if p, ok := t.(*lakelog.PrimitiveType); ok && p.Name == "decimal" && p.Scale > 0 {
			return decimalString(x, p.Scale)
		}
		return x.String()
	}
	return fmt.Sprint(v)
}

func decimalString(unscaled *big.Int, scale int) string {
	s := new(big.Int).Abs(unscaled).String()
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if unscaled.Sign() < 0 {
		return "-" + s
	}
	return s
}

// errKeyType says a key value has no Debezium form debeziumKey knows.
var errKeyType = errors.New("key type not supported for deletes")

// debeziumKey converts a primary-key value read from the SCD1 table (a
// canonValue) back to the Debezium representation of source column col,
// for the delete events of keys the source no longer has. It covers the
// key types tables use: integers, strings (text, uuid, enum), bytes,
// decimals, dates, times and timestamps.
func debeziumKey(col schemas.Column, v any) (any, error) {
	switch col.Semantic {
	case schemas.SemDate, schemas.SemConnectDate:
		if t, ok := v.(time.Time); ok {
			return int32(t.Unix() / 86400), nil
		}
	case schemas.SemTimestamp, schemas.SemConnectTs:
		if t, ok := v.(time.Time); ok {
			return t.UnixMilli(), nil
		}
	case schemas.SemMicroTimestamp:
		if t, ok := v.(time.Time); ok {
			return t.UnixMicro(), nil
		}
	case schemas.SemNanoTimestamp:
		if t, ok := v.(time.Time); ok {
			return t.UnixNano(), nil
		}
	case schemas.SemZonedTimestamp:
		if t, ok := v.(time.Time); ok {
			return t.UTC().Format("2006-01-02T15:04:05.999999Z"), nil
		}
	case schemas.SemTime, schemas.SemConnectTime:
		if us, ok := v.(int64); ok {
			return int32(us / 1000), nil
		}
	case schemas.SemMicroTime:
		if us, ok := v.(int64); ok {
			return us, nil
		}
	case schemas.SemNanoTime:
		if us, ok := v.(int64); ok {
			return us * 1000, nil
		}
	case schemas.SemDecimal:
		if n, ok := v.(*big.Int); ok {
			return schemas.TwosComplementBytes(n), nil
		}
	case "":
		switch col.Type {
		case schemas.Int8, schemas.Int16, schemas.Int32, schemas.Int64:
			n, ok := v.(int64)
			if !ok {
				break
			}
			switch col.Type {
			case schemas.Int8:
				return int8(n), nil
			case schemas.Int16:
				return int16(n), nil
			case schemas.Int32:
				return int32(n), nil
			}
			return n, nil
		case schemas.String:
			if s, ok := v.(string); ok {
				return s, nil
			}
		case schemas.Bytes:
			if b, ok := v.([]byte); ok {
				return b, nil
			}
		case schemas.Boolean:
			if b, ok := v.(bool); ok {
				return b, nil
			}
		}
	default:
		if s, ok := v.(string); ok && col.Type == schemas.String {
			return s, nil // uuid, enum, json, xml: strings
		}
	}
	return nil, fmt.Errorf("column %q (%s %s): %w", col.Name, col.Type, col.Semantic, errKeyType)
}
