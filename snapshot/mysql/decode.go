package mysql

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/schemas/mysqltype"
)

// decode turns a value of go-sql-driver's binary protocol into the
// column's Debezium value with the shared mapping: integers arrive as
// int64 (BIGINT UNSIGNED above 2^63-1 as decimal text), FLOAT as float32,
// DOUBLE as float64, everything else as bytes (DECIMAL and temporal
// values as text, BIT big-endian, ENUM/SET as member text, strings as
// utf8mb4). The bytes are the driver's buffer: they are copied or parsed
// here, never kept.
func decode(c *mysqltype.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Kind {
	case mysqltype.KindInt16, mysqltype.KindInt32, mysqltype.KindInt64, mysqltype.KindUint64Decimal:
		switch x := v.(type) {
		case int64:
			if c.Unsigned {
				return c.Int(0, uint64(x), true), nil
			}
			return c.Int(x, 0, false), nil
		case []byte:
			u, err := strconv.ParseUint(string(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("integer %q: %w", x, err)
			}
			return c.Int(0, u, true), nil
		}
	case mysqltype.KindYear:
		if n, ok := v.(int64); ok {
			return int32(n), nil
		}
	case mysqltype.KindFloat32:
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case mysqltype.KindFloat64:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	default:
		b, ok := v.([]byte)
		if !ok {
			break
		}
		return decodeBytes(c, b)
	}
	return nil, fmt.Errorf("unexpected driver value %T", v)
}

func decodeBytes(c *mysqltype.Column, b []byte) (any, error) {
	switch c.Kind {
	case mysqltype.KindDecimal:
		return mysqltype.DecimalBytes(string(b), c.Scale)
	case mysqltype.KindBool, mysqltype.KindBits:
		if len(b) > 8 {
			return nil, fmt.Errorf("bit value of %d bytes", len(b))
		}
		var n uint64
		for _, x := range b { // big-endian on the wire
			n = n<<8 | uint64(x)
		}
		return c.BitValue(n), nil
	case mysqltype.KindZonedTimestamp:
		if s, ok := fastZonedTimestamp(b, c.Scale); ok {
			return s, nil
		}
		return c.ZonedTimestampText(string(b))
	case mysqltype.KindTimestampMillis, mysqltype.KindTimestampMicros:
		if t, ok := fastDatetime(b); ok {
			return c.Datetime(t), nil
		}
		return c.DatetimeText(string(b))
	case mysqltype.KindDate:
		return c.DateText(string(b))
	case mysqltype.KindMicroTime:
		return mysqltype.ParseMicroTime(string(b))
	case mysqltype.KindEnum, mysqltype.KindSet:
		// The server sends the member text (SET members in definition
		// order), what capture makes of the index or bit mask.
		return string(b), nil
	case mysqltype.KindString, mysqltype.KindJSON:
		return c.Text(string(b))
	case mysqltype.KindBytes:
		return c.Bytes(b), nil
	}
	return nil, fmt.Errorf("unexpected driver value []byte for kind %d", c.Kind)
}

// The driver formats TIMESTAMP and DATETIME values as
// "YYYY-MM-DD HH:MM:SS[.ffffff]"; parsing that with time.Parse and
// formatting it again was the largest part of decoding. fastZonedTimestamp
// and fastDatetime read exactly that layout, with every field in range and
// a real calendar date, and report ok = false for anything else (zero
// dates, other layouts), which then takes mysqltype's general path; their
// results are the general path's (TestFastTimestampsAgree).

// datetimeFields checks the layout and ranges and returns the fraction's
// digits.
func datetimeFields(b []byte) (y, mo, d, h, mi, s int, frac []byte, ok bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if b[i] < '0' || b[i] > '9' {
			return
		}
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, s = num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if y == 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59 {
		return
	}
	if len(b) > 19 {
		if b[19] != '.' || len(b) == 20 || len(b) > 26 {
			return
		}
		frac = b[20:]
		for _, c := range frac {
			if c < '0' || c > '9' {
				return
			}
		}
	}
	return y, mo, d, h, mi, s, frac, true
}

func daysInMonth(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// fastZonedTimestamp is mysqltype.Column.ZonedTimestampText for the
// driver's layout: "YYYY-MM-DDTHH:MM:SS", the fraction cut or padded to
// exactly fsp digits, "Z".
func fastZonedTimestamp(b []byte, fsp int) (string, bool) {
	_, _, _, _, _, _, frac, ok := datetimeFields(b)
	if !ok || fsp < 0 || fsp > 6 {
		return "", false
	}
	var buf [32]byte
	out := append(buf[:0], b[:19]...)
	out[10] = 'T'
	if fsp > 0 {
		out = append(out, '.')
		for i := range fsp {
			if i < len(frac) {
				out = append(out, frac[i])
			} else {
				out = append(out, '0')
			}
		}
	}
	out = append(out, 'Z')
	return string(out), true
}

// fastDatetime reads the driver's layout as a UTC instant.
func fastDatetime(b []byte) (time.Time, bool) {
	y, mo, d, h, mi, s, frac, ok := datetimeFields(b)
	if !ok {
		return time.Time{}, false
	}
	ns := 0
	for i := range 9 {
		ns *= 10
		if i < len(frac) {
			ns += int(frac[i] - '0')
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC), true
}
