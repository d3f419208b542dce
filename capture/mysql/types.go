package mysql

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"golang.org/x/text/encoding/charmap"

	"github.com/sluicehq/sluice/schemas"
)

// kind says how a go-mysql row value becomes a Change value. The mapping
// table is in doc.go.
type kind uint8

const (
	kindInt16 kind = iota + 1
	kindInt32
	kindInt64
	kindUint64Decimal // BIGINT UNSIGNED: Decimal(20, 0), precise
	kindDecimal
	kindFloat32
	kindFloat64
	kindBool // BIT(1)
	kindBits
	kindZonedTimestamp
	kindTimestampMillis
	kindTimestampMicros
	kindDate
	kindMicroTime
	kindYear
	kindEnum
	kindSet
	kindString
	kindBytes
	kindJSON
)

// column is one source column: its envelope description plus what decoding
// needs.
type column struct {
	schemas.Column
	kind     kind
	unsigned bool
	scale    int      // DECIMAL scale
	nbits    int      // BIT length
	values   []string // ENUM/SET members, in definition order
	padTo    int      // BINARY(n): values are right-padded with 0x00 to n bytes
	latin1   bool     // text in MySQL's latin1 (cp1252), converted to UTF-8
}

// Binlog column type codes (mysql.MYSQL_TYPE_*), named for the switch below.
const (
	typeEnum   = gomysql.MYSQL_TYPE_ENUM
	typeSet    = gomysql.MYSQL_TYPE_SET
	typeString = gomysql.MYSQL_TYPE_STRING
)

// realType returns the column's type, resolving MYSQL_TYPE_STRING's meta
// encoding of ENUM and SET (and CHAR lengths over 255), and the declared
// byte length of CHAR/BINARY columns.
func realType(tp byte, meta uint16) (byte, int) {
	if tp != typeString {
		return tp, 0
	}
	if meta >= 256 {
		b0, b1 := byte(meta>>8), byte(meta&0xFF)
		if b0&0x30 != 0x30 {
			return b0 | 0x30, int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
		}
		return b0, int(b1)
	}
	return tp, int(meta)
}

// colInfo is what the table-map event cannot say about a column, from
// optional metadata or the information_schema.
type colInfo struct {
	name     string
	unsigned bool
	binary   bool // binary charset (BINARY/VARBINARY/BLOB), not text
	latin1   bool
	json     bool // declared JSON (MariaDB stores it as LONGTEXT)
	values   []string
	srcType  string
}

// newColumn maps a binlog column to its Debezium representation.
func newColumn(tp byte, meta uint16, nullable bool, info colInfo) (column, error) {
	rt, length := realType(tp, meta)
	c := column{unsigned: info.unsigned}
	c.Name = info.name
	c.Optional = nullable
	c.SourceType = info.srcType
	switch rt {
	case gomysql.MYSQL_TYPE_TINY:
		c.kind, c.Type = kindInt16, schemas.Int16
	case gomysql.MYSQL_TYPE_SHORT:
		if info.unsigned {
			c.kind, c.Type = kindInt32, schemas.Int32
		} else {
			c.kind, c.Type = kindInt16, schemas.Int16
		}
	case gomysql.MYSQL_TYPE_INT24:
		c.kind, c.Type = kindInt32, schemas.Int32
	case gomysql.MYSQL_TYPE_LONG:
		if info.unsigned {
			c.kind, c.Type = kindInt64, schemas.Int64
		} else {
			c.kind, c.Type = kindInt32, schemas.Int32
		}
	case gomysql.MYSQL_TYPE_LONGLONG:
		if info.unsigned {
			c.kind, c.Type, c.Semantic = kindUint64Decimal, schemas.Bytes, schemas.SemDecimal
			c.Params = map[string]string{"scale": "0", "connect.decimal.precision": "20"}
		} else {
			c.kind, c.Type = kindInt64, schemas.Int64
		}
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		prec, scale := int(meta>>8), int(meta&0xFF)
		c.kind, c.Type, c.Semantic, c.scale = kindDecimal, schemas.Bytes, schemas.SemDecimal, scale
		c.Params = map[string]string{"scale": strconv.Itoa(scale), "connect.decimal.precision": strconv.Itoa(prec)}
	case gomysql.MYSQL_TYPE_FLOAT:
		c.kind, c.Type = kindFloat32, schemas.Float32
	case gomysql.MYSQL_TYPE_DOUBLE:
		c.kind, c.Type = kindFloat64, schemas.Float64
	case gomysql.MYSQL_TYPE_BIT:
		c.nbits = int(meta>>8)*8 + int(meta&0xFF)
		if c.nbits == 1 {
			c.kind, c.Type = kindBool, schemas.Boolean
		} else {
			c.kind, c.Type, c.Semantic = kindBits, schemas.Bytes, schemas.SemBits
			c.Params = map[string]string{"length": strconv.Itoa(c.nbits)}
		}
	case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
		c.kind, c.Type, c.Semantic = kindZonedTimestamp, schemas.String, schemas.SemZonedTimestamp
		if rt == gomysql.MYSQL_TYPE_TIMESTAMP2 {
			c.scale = int(meta) // fsp
		}
	case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
		fsp := 0
		if rt == gomysql.MYSQL_TYPE_DATETIME2 {
			fsp = int(meta)
		}
		if fsp <= 3 {
			c.kind, c.Type, c.Semantic = kindTimestampMillis, schemas.Int64, schemas.SemTimestamp
		} else {
			c.kind, c.Type, c.Semantic = kindTimestampMicros, schemas.Int64, schemas.SemMicroTimestamp
		}
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
		c.kind, c.Type, c.Semantic = kindDate, schemas.Int32, schemas.SemDate
	case gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
		c.kind, c.Type, c.Semantic = kindMicroTime, schemas.Int64, schemas.SemMicroTime
	case gomysql.MYSQL_TYPE_YEAR:
		c.kind, c.Type, c.Semantic = kindYear, schemas.Int32, schemas.SemYear
	case typeEnum, typeSet:
		c.values = info.values
		c.Type = schemas.String
		if rt == typeEnum {
			c.kind, c.Semantic = kindEnum, schemas.SemEnum
		} else {
			c.kind, c.Semantic = kindSet, schemas.SemEnumSet
		}
		c.Params = map[string]string{"allowed": strings.Join(info.values, ",")}
	case gomysql.MYSQL_TYPE_JSON:
		c.kind, c.Type, c.Semantic = kindJSON, schemas.String, schemas.SemJSON
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING, typeString,
		gomysql.MYSQL_TYPE_BLOB, gomysql.MYSQL_TYPE_TINY_BLOB, gomysql.MYSQL_TYPE_MEDIUM_BLOB,
		gomysql.MYSQL_TYPE_LONG_BLOB:
		switch {
		case info.json:
			c.kind, c.Type, c.Semantic = kindJSON, schemas.String, schemas.SemJSON
		case info.binary:
			c.kind, c.Type = kindBytes, schemas.Bytes
			if rt == typeString {
				c.padTo = length
			}
		default:
			c.kind, c.Type, c.latin1 = kindString, schemas.String, info.latin1
		}
	case gomysql.MYSQL_TYPE_GEOMETRY:
		// TODO(mysql): Debezium's io.debezium.data.geometry.Geometry struct
		// (wkb + srid); the raw SRID+WKB bytes for now.
		c.kind, c.Type = kindBytes, schemas.Bytes
	default:
		return c, fmt.Errorf("column %q: unsupported binlog type %d", info.name, rt)
	}
	return c, nil
}

// convert turns a value decoded by go-mysql into the column's Change value.
func (c *column) convert(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case kindInt16, kindInt32, kindInt64, kindUint64Decimal:
		return c.convertInt(v)
	case kindDecimal:
		s, ok := v.(string)
		if !ok {
			break
		}
		return decimalBytes(s, c.scale)
	case kindFloat32:
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case kindFloat64:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	case kindBool:
		if n, ok := v.(int64); ok {
			return n != 0, nil
		}
	case kindBits:
		if n, ok := v.(int64); ok {
			// Debezium's Bits: the bits in little-endian byte order,
			// (length+7)/8 bytes.
			b := make([]byte, (c.nbits+7)/8)
			for i := range b {
				b[i] = byte(uint64(n) >> (8 * i))
			}
			return b, nil
		}
	case kindZonedTimestamp:
		return c.zonedTimestamp(v)
	case kindTimestampMillis, kindTimestampMicros:
		return c.timestamp(v)
	case kindDate:
		s, ok := v.(string)
		if !ok {
			break
		}
		return c.date(s)
	case kindMicroTime:
		s, ok := v.(string)
		if !ok {
			break
		}
		return parseMicroTime(s)
	case kindYear:
		if n, ok := v.(int); ok {
			return int32(n), nil
		}
	case kindEnum:
		if n, ok := v.(int64); ok {
			// 0 is MySQL's "invalid value" member, the empty string.
			if n == 0 {
				return "", nil
			}
			if n < 0 || int(n) > len(c.values) {
				return nil, fmt.Errorf("enum index %d: column has %d values (schema unknown or stale)", n, len(c.values))
			}
			return c.values[n-1], nil
		}
	case kindSet:
		if n, ok := v.(int64); ok {
			var sb strings.Builder
			for i := 0; i < 64 && n != 0; i++ {
				if n&(1<<i) == 0 {
					continue
				}
				n &^= 1 << i
				if i >= len(c.values) {
					return nil, fmt.Errorf("set bit %d: column has %d values (schema unknown or stale)", i, len(c.values))
				}
				if sb.Len() > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(c.values[i])
			}
			return sb.String(), nil
		}
	case kindString, kindJSON:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil, fmt.Errorf("unexpected Go value %T", v)
		}
		if c.latin1 {
			return latin1ToUTF8(s)
		}
		if c.kind == kindJSON && s == "" {
			// MySQL: an empty JSON document (INSERT IGNORE of NULL into
			// NOT NULL) reads as the JSON null literal.
			return "null", nil
		}
		return s, nil
	case kindBytes:
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = append([]byte(nil), x...)
		default:
			return nil, fmt.Errorf("unexpected Go value %T", v)
		}
		if len(b) < c.padTo {
			// The binlog strips BINARY(n)'s trailing zero bytes; the column
			// value has them.
			b = append(b, make([]byte, c.padTo-len(b))...)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unexpected Go value %T", v)
}

func (c *column) convertInt(v any) (any, error) {
	var n int64
	var u uint64
	unsigned := false
	switch x := v.(type) {
	case int8:
		n = int64(x)
		if c.unsigned {
			u, unsigned = uint64(uint8(x)), true
		}
	case uint8:
		u, unsigned = uint64(x), true
	case int16:
		n = int64(x)
		if c.unsigned {
			u, unsigned = uint64(uint16(x)), true
		}
	case uint16:
		u, unsigned = uint64(x), true
	case int32:
		n = int64(x)
		if c.unsigned {
			// INT24 arrives sign-extended to int32.
			if c.Type == schemas.Int32 && n < 0 {
				u, unsigned = uint64(uint32(x)&0xFFFFFF), true
			} else {
				u, unsigned = uint64(uint32(x)), true
			}
		}
	case uint32:
		u, unsigned = uint64(x), true
	case int64:
		n = int64(x)
		if c.unsigned {
			u, unsigned = uint64(x), true
		}
	case uint64:
		u, unsigned = x, true
	default:
		return nil, fmt.Errorf("unexpected Go value %T", v)
	}
	if unsigned {
		if c.kind == kindUint64Decimal {
			return schemas.TwosComplementBytes(new(big.Int).SetUint64(u)), nil
		}
		n = int64(u)
	} else if c.kind == kindUint64Decimal {
		return schemas.TwosComplementBytes(big.NewInt(n)), nil
	}
	switch c.kind {
	case kindInt16:
		return int16(n), nil
	case kindInt32:
		return int32(n), nil
	}
	return n, nil
}

// decimalBytes converts MySQL's decimal text ("-12.340", "0.5") of a column
// with the given scale to Connect Decimal bytes: the unscaled value,
// big-endian two's complement, as Java's BigInteger.toByteArray.
func decimalBytes(s string, scale int) ([]byte, error) {
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

// zonedTimestamp formats a TIMESTAMP as Debezium's ZonedTimestamp: UTC,
// ISO-8601, with exactly fsp fraction digits ("2024-01-02T03:04:05.120Z").
func (c *column) zonedTimestamp(v any) (any, error) {
	var t time.Time
	switch x := v.(type) {
	case fmt.Stringer:
		tt, ok := timeOf(x)
		if !ok {
			return nil, fmt.Errorf("timestamp: unexpected value %v", x)
		}
		t = tt
	case string:
		if strings.HasPrefix(x, "0000-00-00") {
			return c.zeroValue("1970-01-01T00:00:00Z"), nil
		}
		tt, err := time.ParseInLocation("2006-01-02 15:04:05.999999", x, time.UTC)
		if err != nil {
			return nil, fmt.Errorf("timestamp %q: %w", x, err)
		}
		t = tt
	default:
		return nil, fmt.Errorf("timestamp: unexpected Go value %T", v)
	}
	t = t.UTC()
	layout := "2006-01-02T15:04:05"
	if c.scale > 0 {
		layout += "." + strings.Repeat("0", c.scale)
	}
	return t.Format(layout) + "Z", nil
}

// timeOf extracts the time.Time that go-mysql's fracTime embeds.
func timeOf(v any) (time.Time, bool) {
	type timer interface{ UTC() time.Time }
	if t, ok := v.(timer); ok {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// timestamp converts a DATETIME to ms or µs since the epoch, read as UTC
// (Debezium's Timestamp/MicroTimestamp have no zone).
func (c *column) timestamp(v any) (any, error) {
	var t time.Time
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "0000-00-00") || strings.Contains(x[:min(len(x), 10)], "-00") {
			// Zero dates and dates with zero parts have no instant.
			return c.zeroValue(int64(0)), nil
		}
		tt, err := time.ParseInLocation("2006-01-02 15:04:05.999999", x, time.UTC)
		if err != nil {
			return nil, fmt.Errorf("datetime %q: %w", x, err)
		}
		t = tt
	default:
		tt, ok := timeOf(v)
		if !ok {
			return nil, fmt.Errorf("datetime: unexpected Go value %T", v)
		}
		t = tt
	}
	if c.kind == kindTimestampMillis {
		return t.UnixMilli(), nil
	}
	return t.UnixMicro(), nil
}

// date converts "YYYY-MM-DD" to days since the epoch.
func (c *column) date(s string) (any, error) {
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
		return c.zeroValue(int32(0)), nil
	}
	days := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	return int32(days), nil
}

// zeroValue is what a MySQL zero date becomes: null when the column is
// nullable, else the epoch (Debezium's behaviour).
func (c *column) zeroValue(epoch any) any {
	if c.Optional {
		return nil
	}
	return epoch
}

// parseMicroTime converts "[-]HHH:MM:SS[.ffffff]" (MySQL TIME ranges from
// -838:59:59 to 838:59:59) to microseconds.
func parseMicroTime(s string) (int64, error) {
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

// latin1ToUTF8 decodes MySQL's latin1, which is Windows-1252.
func latin1ToUTF8(s string) (string, error) {
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

// Collation ids of MySQL's latin1 character set, and of "binary".
var latin1Collations = map[uint64]bool{5: true, 8: true, 15: true, 31: true, 47: true, 48: true, 49: true, 94: true}

const binaryCollation = 63
