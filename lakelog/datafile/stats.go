package datafile

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"
)

// StringPrefixLength is Spark's default string stats prefix
// (spark.databricks.delta.stats.skipping.stringPrefixLength), in UTF-16
// code units as Java counts them.
const StringPrefixLength = 32

// colStats accumulates one stats column. kind is 0 for array columns, which
// only get a nullCount.
type colStats struct {
	kind  kind
	scale int
	nulls int64
	has   bool // a non-null value was seen

	minI, maxI int64   // integers, dates, timestamps (µs), decimals up to 18 digits (unscaled)
	minF, maxF float64 // float, double
	badFloat   bool    // a NaN or ±Inf was seen: JSON cannot carry it, so no min/max
	minS, maxS string
	minB, maxB *big.Int // decimals over 18 digits (unscaled)
}

func newColStats(l *leaf, path string) *colStats {
	if l == nil {
		return &colStats{}
	}
	s := &colStats{kind: l.kind}
	if l.typ != nil {
		s.scale = l.typ.Scale
	}
	return s
}

// minMaxEligible reports whether Spark keeps min/max for the kind
// (SkippingEligibleDataType: numbers, dates, timestamps, strings).
func (s *colStats) minMaxEligible() bool {
	switch s.kind {
	case 0, kindBoolean, kindBinary:
		return false
	}
	return true
}

func (s *colStats) addInt(v int64) {
	if !s.has {
		s.minI, s.maxI, s.has = v, v, true
		return
	}
	if v < s.minI {
		s.minI = v
	}
	if v > s.maxI {
		s.maxI = v
	}
}

func (s *colStats) addFloat(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		s.badFloat = true
	}
	if !s.has {
		s.minF, s.maxF, s.has = v, v, true
		return
	}
	if v < s.minF {
		s.minF = v
	}
	if v > s.maxF {
		s.maxF = v
	}
}

func (s *colStats) addString(v string) {
	if !s.has {
		s.minS, s.maxS, s.has = v, v, true
		return
	}
	if v < s.minS {
		s.minS = v
	}
	if v > s.maxS {
		s.maxS = v
	}
}

func (s *colStats) addBig(v *big.Int) {
	if !s.has {
		s.minB, s.maxB, s.has = new(big.Int).Set(v), new(big.Int).Set(v), true
		return
	}
	if v.Cmp(s.minB) < 0 {
		s.minB.Set(v)
	}
	if v.Cmp(s.maxB) > 0 {
		s.maxB.Set(v)
	}
}

// appendBound appends the JSON min (max=false) or max of the column, or
// reports false when the column has none.
func (s *colStats) appendBound(b []byte, max bool) ([]byte, bool) {
	if !s.has || !s.minMaxEligible() {
		return b, false
	}
	switch s.kind {
	case kindString:
		v, ok := TruncateMin(s.minS, StringPrefixLength), true
		if max {
			v, ok = TruncateMax(s.maxS, StringPrefixLength)
		}
		if !ok {
			return b, false
		}
		q, err := json.Marshal(v)
		if err != nil {
			return b, false
		}
		return append(b, q...), true
	case kindFloat, kindDouble:
		if s.badFloat {
			return b, false
		}
		v, bits := s.minF, 64
		if max {
			v = s.maxF
		}
		if s.kind == kindFloat {
			bits = 32
		}
		return strconv.AppendFloat(b, v, 'g', -1, bits), true
	case kindDecimalBig:
		v := s.minB
		if max {
			v = s.maxB
		}
		return appendDecimal(b, v.String(), s.scale), true
	}
	v := s.minI
	if max {
		v = s.maxI
	}
	switch s.kind {
	case kindDecimal32, kindDecimal64:
		return appendDecimal(b, strconv.FormatInt(v, 10), s.scale), true
	case kindDate:
		return strconv.AppendQuote(b, time.Unix(v*86400, 0).UTC().Format(time.DateOnly)), true
	case kindTimestamp, kindTimestampNTZ:
		ms := floorDiv(v, 1000)
		if max && v%1000 != 0 {
			// Stats carry milliseconds; rounding the max up keeps it >= every
			// value, so even a reader that does not add Spark's 1 ms slack
			// never skips this file wrongly.
			ms++
		}
		layout := "2006-01-02T15:04:05.000Z07:00"
		if s.kind == kindTimestampNTZ {
			layout = "2006-01-02T15:04:05.000"
		}
		return strconv.AppendQuote(b, time.UnixMilli(ms).UTC().Format(layout)), true
	}
	return strconv.AppendInt(b, v, 10), true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendDecimal appends the unscaled integer text digits with the decimal
// point placed scale digits from the right, as an exact JSON number.
func appendDecimal(b []byte, digits string, scale int) []byte {
	if digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	if scale == 0 {
		return append(b, digits...)
	}
	for len(digits) <= scale {
		digits = "0" + digits
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-scale:]...)
}

// statsJSON renders the Delta stats string of a file with numRecords rows.
func statsJSON(fields []*node, numRecords int64) string {
	var buf bytes.Buffer
	buf.WriteString(`{"numRecords":`)
	buf.WriteString(strconv.FormatInt(numRecords, 10))
	for _, part := range []struct {
		name string
		emit func(*colStats, []byte) ([]byte, bool)
	}{
		{"minValues", func(s *colStats, b []byte) ([]byte, bool) { return s.appendBound(b, false) }},
		{"maxValues", func(s *colStats, b []byte) ([]byte, bool) { return s.appendBound(b, true) }},
		{"nullCount", func(s *colStats, b []byte) ([]byte, bool) { return strconv.AppendInt(b, s.nulls, 10), true }},
	} {
		if obj, ok := appendStatsObject(nil, fields, part.emit); ok {
			buf.WriteString(`,"` + part.name + `":`)
			buf.Write(obj)
		}
	}
	buf.WriteByte('}')
	return buf.String()
}

// appendStatsObject appends {"field":value,...} over fields with stats,
// nesting structs; it reports false (and appends nothing) when empty.
func appendStatsObject(b []byte, fields []*node, emit func(*colStats, []byte) ([]byte, bool)) ([]byte, bool) {
	start := len(b)
	b = append(b, '{')
	any := false
	for _, f := range fields {
		mark := len(b)
		if any {
			b = append(b, ',')
		}
		key, _ := json.Marshal(lastSegment(f))
		b = append(b, key...)
		b = append(b, ':')
		var ok bool
		switch {
		case f.children != nil:
			b, ok = appendStatsObject(b, f.children, emit)
		case f.stats != nil:
			b, ok = emit(f.stats, b)
		}
		if !ok {
			b = b[:mark]
			continue
		}
		any = true
	}
	if !any {
		return b[:start], false
	}
	return append(b, '}'), true
}

func lastSegment(n *node) string { return n.field }

// TruncateMin returns the Spark string min bound for v: its prefix of
// prefixLen UTF-16 code units, never splitting a surrogate pair (so a
// supplementary character at the cut is kept whole). The result is <= v.
func TruncateMin(v string, prefixLen int) string {
	units := 0
	for i, r := range v {
		if units >= prefixLen {
			return v[:i]
		}
		units += utf16Len(r)
	}
	return v
}

// TruncateMax returns the Spark string max bound for v
// (StatisticsCollection.truncateMaxStringAgg): v itself when it has at most
// prefixLen UTF-16 units, else the shortest prefix of at least prefixLen
// units followed by a tie-break character greater than the next character
// of v: U+007F when that character is below it, else U+10FFFF (a U+10FFFF
// in v cannot be beaten and is kept in the prefix). The result is >= v in
// UTF-8 byte order. ok is false when no bound exists within 2*prefixLen
// units, or v is not valid UTF-8 at the cut (no character orders above an
// invalid byte).
func TruncateMax(v string, prefixLen int) (bound string, ok bool) {
	if utf16Count(v) <= prefixLen {
		return v, true
	}
	pos := len(TruncateMin(v, prefixLen))
	units := utf16Count(v[:pos])
	for units <= 2*prefixLen {
		if pos >= len(v) {
			return v, true
		}
		r, size := utf8.DecodeRuneInString(v[pos:])
		switch {
		case r == utf8.RuneError && size == 1:
			return "", false
		case r == utf8.MaxRune:
			pos += size
			units += 2
		case r < 0x7f:
			return v[:pos] + "\x7f", true
		default:
			return v[:pos] + string(utf8.MaxRune), true
		}
	}
	return "", false
}

func utf16Len(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

func utf16Count(s string) int {
	n := 0
	for _, r := range s {
		n += utf16Len(r)
	}
	return n
}
