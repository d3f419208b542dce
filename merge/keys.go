package merge

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/lakelog"
)

// This file orders primary keys and decides from a data file's stats
// whether the file can hold a key: the basis of copy-on-write by key range.

// compareValues orders two values of one Delta column (the Go types of
// lakelog/datafile). nil sorts first. Values of different Go types (which
// one column never holds) order by type name so sorting stays total.
func compareValues(a, b any) int {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		}
		return 1
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y)
		}
	case *big.Int:
		if y, ok := b.(*big.Int); ok {
			return x.Cmp(y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
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
	case float32:
		if y, ok := b.(float32); ok {
			return cmp.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	}
	if x, ok := asInt(a); ok {
		if y, ok := asInt(b); ok {
			return cmp.Compare(x, y)
		}
	}
	return strings.Compare(fmt.Sprintf("%T", a), fmt.Sprintf("%T", b))
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case int:
		return int64(x), true
	}
	return 0, false
}

// compareKeys orders composite keys column by column.
func compareKeys(a, b []any) int {
	for i := range a {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// keyString encodes a key as a map key: equal keys give equal strings.
func keyString(key []any) string {
	var b []byte
	for _, v := range key {
		b = appendKey(b, v)
	}
	return string(b)
}

// appendKey appends one key column's value in keyString's encoding; a
// caller looking up map[string] with string(buf) does not allocate.
func appendKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		b = append(b, 'N')
	case string:
		b = append(b, 'S')
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		b = append(b, x...)
	case []byte:
		b = append(b, 'B')
		b = hex.AppendEncode(b, x)
	case *big.Int:
		b = append(b, 'D')
		b = x.Append(b, 10)
	case time.Time:
		b = append(b, 'T')
		b = strconv.AppendInt(b, x.UnixMicro(), 10)
	default:
		if n, ok := asInt(v); ok {
			b = append(b, 'I')
			b = strconv.AppendInt(b, n, 10)
		} else {
			b = fmt.Appendf(b, "%T:%v", v, v)
		}
	}
	return append(b, '|')
}

// keyRange is the [min, max] of a data file's first key column, from its
// stats. ok is false when the stats do not bound the column: the file must
// then be assumed to hold any key.
type keyRange struct {
	min, max any
	ok       bool
}

// fileKeyRange reads the range of column col (of type t) from add's stats.
func fileKeyRange(add *lakelog.Add, col string, t lakelog.DataType) keyRange {
	st, err := add.ParsedStats()
	if err != nil || st == nil || st.MinValues == nil || st.MaxValues == nil {
		return keyRange{}
	}
	lo, okLo := statValue(st.MinValues[col], t)
	hi, okHi := statValue(st.MaxValues[col], t)
	if !okLo || !okHi {
		return keyRange{}
	}
	return keyRange{min: lo, max: hi, ok: true}
}

// mayContain reports whether a file with range r can hold first-key value v.
func (r keyRange) mayContain(v any) bool {
	if !r.ok {
		return true
	}
	return compareValues(r.min, v) <= 0 && compareValues(v, r.max) <= 0
}

// statValue converts a stats JSON value to the column's Go type. Strings are
// truncated prefixes in stats (a min ≤ and a max ≥ every value), which
// compare correctly as bounds.
func statValue(v any, t lakelog.DataType) (any, bool) {
	p, ok := t.(*lakelog.PrimitiveType)
	if !ok || v == nil {
		return nil, false
	}
	switch p.Name {
	case "string":
		s, ok := v.(string)
		return s, ok
	case "long", "integer", "short", "byte":
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		i, err := n.Int64()
		if err != nil {
			return nil, false
		}
		switch p.Name {
		case "integer":
			return int32(i), true
		case "short":
			return int16(i), true
		case "byte":
			return int8(i), true
		}
		return i, true
	case "date":
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		d, err := time.Parse("2006-01-02", s)
		return d.UTC(), err == nil
	case "timestamp", "timestamp_ntz":
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
			if ts, err := time.Parse(layout, s); err == nil {
				return ts.UTC(), true
			}
		}
		return nil, false
	case "decimal":
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		r, ok := new(big.Rat).SetString(string(n))
		if !ok {
			return nil, false
		}
		// to the unscaled integer; stats of a decimal column are exact
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p.Scale)), nil)))
		if !r.IsInt() {
			return nil, false
		}
		return new(big.Int).Set(r.Num()), true
	}
	return nil, false
}
