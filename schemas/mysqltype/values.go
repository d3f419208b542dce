package mysqltype

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/sluicehq/sluice/schemas"
)

// Int converts an integer column's value: n as read when the source value
// is signed, or u when unsigned is true (the wire carried it as unsigned).
// BIGINT UNSIGNED becomes Decimal bytes; other kinds their Connect width.
func (c *Column) Int(n int64, u uint64, unsigned bool) any {
	if unsigned {
		if c.Kind == KindUint64Decimal {
			return schemas.TwosComplementBytes(new(big.Int).SetUint64(u))
		}
		n = int64(u)
	} else if c.Kind == KindUint64Decimal {
		return schemas.TwosComplementBytes(big.NewInt(n))
	}
	switch c.Kind {
	case KindInt16:
		return int16(n)
	case KindInt32:
		return int32(n)
	}
	return n
}

// BitValue converts a BIT column's value, the bits as an integer: BIT(1) is
// a bool, BIT(n) Debezium's Bits, little-endian, (n+7)/8 bytes.
func (c *Column) BitValue(n uint64) any {
	if c.Kind == KindBool {
		return n != 0
	}
	b := make([]byte, (c.NBits+7)/8)
	for i := range b {
		b[i] = byte(n >> (8 * i))
	}
	return b
}

// EnumMember returns ENUM member idx (1-based); 0 is MySQL's "invalid
// value" member, the empty string.
func (c *Column) EnumMember(idx int64) (string, error) {
	if idx == 0 {
		return "", nil
	}
	if idx < 0 || int(idx) > len(c.Values) {
		return "", fmt.Errorf("enum index %d: column has %d values (schema unknown or stale)", idx, len(c.Values))
	}
	return c.Values[idx-1], nil
}

// SetMembers returns the SET members of bit mask n, comma-separated, in
// definition order.
func (c *Column) SetMembers(n int64) (string, error) {
	var sb strings.Builder
	for i := 0; i < 64 && n != 0; i++ {
		if n&(1<<i) == 0 {
			continue
		}
		n &^= 1 << i
		if i >= len(c.Values) {
			return "", fmt.Errorf("set bit %d: column has %d values (schema unknown or stale)", i, len(c.Values))
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(c.Values[i])
	}
	return sb.String(), nil
}

// Text converts a string or JSON column's text (in the column's charset:
// latin1 columns are converted to UTF-8).
func (c *Column) Text(s string) (any, error) {
	if c.Latin1 {
		return Latin1ToUTF8(s)
	}
	if c.Kind == KindJSON && s == "" {
		// MySQL: an empty JSON document (INSERT IGNORE of NULL into NOT
		// NULL) reads as the JSON null literal.
		return "null", nil
	}
	return s, nil
}

// Bytes converts a binary column's value into a new slice (b is not
// kept), padded with 0x00 to BINARY(n)'s length: the binlog strips the
// trailing zero bytes, the column value has them.
func (c *Column) Bytes(b []byte) []byte {
	out := make([]byte, max(len(b), c.PadTo))
	copy(out, b)
	return out
}

// DecimalBytes converts MySQL's decimal text ("-12.340", "0.5") of a column
// with the given scale to Connect Decimal bytes: the unscaled value,
// big-endian two's complement, as Java's BigInteger.toByteArray.
func DecimalBytes(s string, scale int) ([]byte, error) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(digits, ".")
	if len(frac) > scale {
		return nil, fmt.Errorf("decimal %q: more than %d fraction digits", s, scale)
	}
	unscaled := intPart + frac + strings.Repeat("0", scale-len(frac))
	if unscaled == "" {
		return nil, fmt.Errorf("decimal %q: no digits", s)
	}
	if len(unscaled) <= 18 {
		n, err := strconv.ParseInt(unscaled, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("decimal %q: %w", s, err)
		}
		if neg {
			n = -n
		}
		return int64Bytes(n), nil
	}
	n, ok := new(big.Int).SetString(unscaled, 10)
	if !ok {
		return nil, fmt.Errorf("decimal %q: bad digits", s)
	}
	if neg {
		n.Neg(n)
	}
	return schemas.TwosComplementBytes(n), nil
}

// int64Bytes is BigInteger.valueOf(n).toByteArray() without big.Int.
func int64Bytes(n int64) []byte {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(n))
	i := 0
	// Drop leading bytes that only repeat the sign.
	for i < 7 {
		if buf[i] == 0x00 && buf[i+1]&0x80 == 0 || buf[i] == 0xFF && buf[i+1]&0x80 != 0 {
			i++
			continue
		}
		break
	}
	return append([]byte(nil), buf[i:]...)
}

// ZonedTimestamp formats a TIMESTAMP instant as Debezium's ZonedTimestamp:
// UTC, ISO-8601, with exactly the column's fsp fraction digits
// ("2024-01-02T03:04:05.120Z").
func (c *Column) ZonedTimestamp(t time.Time) string {
	layout := "2006-01-02T15:04:05"
	if c.Scale > 0 {
		layout += "." + strings.Repeat("0", c.Scale)
	}
	return t.UTC().Format(layout) + "Z"
}

// ZonedTimestampText converts TIMESTAMP text "YYYY-MM-DD HH:MM:SS[.ffffff]"
// in UTC (the session time zone must be UTC).
func (c *Column) ZonedTimestampText(s string) (any, error) {
	if strings.HasPrefix(s, "0000-00-00") {
		return c.ZeroValue("1970-01-01T00:00:00Z"), nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return c.ZonedTimestamp(t), nil
}

// Datetime converts a DATETIME, read as UTC (Debezium's Timestamp and
// MicroTimestamp have no zone), to ms or µs since the epoch.
func (c *Column) Datetime(t time.Time) any {
	if c.Kind == KindTimestampMillis {
		return t.UnixMilli()
	}
	return t.UnixMicro()
}

// DatetimeText converts DATETIME text "YYYY-MM-DD HH:MM:SS[.ffffff]".
func (c *Column) DatetimeText(s string) (any, error) {
	if strings.HasPrefix(s, "0000-00-00") || strings.Contains(s[:min(len(s), 10)], "-00") {
		// Zero dates and dates with zero parts have no instant.
		return c.ZeroValue(int64(0)), nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("datetime %q: %w", s, err)
	}
	return c.Datetime(t), nil
}

// DateText converts "YYYY-MM-DD" to days since the epoch.
func (c *Column) DateText(s string) (any, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return nil, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	y, err1 := strconv.Atoi(s[:4])
	m, err2 := strconv.Atoi(s[5:7])
	d, err3 := strconv.Atoi(s[8:])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	if m == 0 || d == 0 {
		return c.ZeroValue(int32(0)), nil
	}
	days := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	return int32(days), nil
}

// ZeroValue is what a MySQL zero date becomes: null when the column is
// nullable, else the epoch (Debezium's behaviour).
func (c *Column) ZeroValue(epoch any) any {
	if c.Optional {
		return nil
	}
	return epoch
}

// ParseMicroTime converts "[-]HHH:MM:SS[.ffffff]" (MySQL TIME ranges from
// -838:59:59 to 838:59:59) to microseconds.
func ParseMicroTime(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	hms, frac, _ := strings.Cut(body, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 || len(frac) > 6 {
		return 0, fmt.Errorf("time %q: want [-]HH:MM:SS[.ffffff]", s)
	}
	var f [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("time %q: want [-]HH:MM:SS[.ffffff]", s)
		}
		f[i] = n
	}
	var us int64
	if frac != "" {
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("time %q: bad fraction", s)
		}
		us = n
	}
	total := ((f[0]*60+f[1])*60+f[2])*1_000_000 + us
	if neg {
		total = -total
	}
	return total, nil
}

// Latin1ToUTF8 decodes MySQL's latin1, which is Windows-1252.
func Latin1ToUTF8(s string) (string, error) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s, nil
	}
	out, err := charmap.Windows1252.NewDecoder().String(s)
	if err != nil {
		return "", fmt.Errorf("latin1 text: %w", err)
	}
	return out, nil
}
