package mysql

import (
	"fmt"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/schemas/mysqltype"
)

// column is one source column: the shared MySQL → Debezium mapping
// (schemas/mysqltype, also used by snapshot/mysql) of its binlog type. The
// mapping table is in doc.go.
type column struct {
	mysqltype.Column
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

// newColumn maps a binlog column to its Debezium representation: the
// binlog type code and metadata become a mysqltype.Def.
func newColumn(tp byte, meta uint16, nullable bool, info colInfo) (column, error) {
	rt, length := realType(tp, meta)
	d := mysqltype.Def{
		Name: info.name, SourceType: info.srcType, Nullable: nullable, Unsigned: info.unsigned,
		Binary: info.binary, Latin1: info.latin1, JSON: info.json, Values: info.values,
	}
	switch rt {
	case gomysql.MYSQL_TYPE_TINY:
		d.Type = mysqltype.Tiny
	case gomysql.MYSQL_TYPE_SHORT:
		d.Type = mysqltype.Short
	case gomysql.MYSQL_TYPE_INT24:
		d.Type = mysqltype.Int24
	case gomysql.MYSQL_TYPE_LONG:
		d.Type = mysqltype.Long
	case gomysql.MYSQL_TYPE_LONGLONG:
		d.Type = mysqltype.LongLong
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		d.Type, d.Precision, d.Scale = mysqltype.Decimal, int(meta>>8), int(meta&0xFF)
	case gomysql.MYSQL_TYPE_FLOAT:
		d.Type = mysqltype.Float
	case gomysql.MYSQL_TYPE_DOUBLE:
		d.Type = mysqltype.Double
	case gomysql.MYSQL_TYPE_BIT:
		d.Type, d.Bits = mysqltype.Bit, int(meta>>8)*8+int(meta&0xFF)
	case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
		d.Type = mysqltype.Timestamp
		if rt == gomysql.MYSQL_TYPE_TIMESTAMP2 {
			d.FSP = int(meta)
		}
	case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
		d.Type = mysqltype.Datetime
		if rt == gomysql.MYSQL_TYPE_DATETIME2 {
			d.FSP = int(meta)
		}
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
		d.Type = mysqltype.Date
	case gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
		d.Type = mysqltype.Time
		if rt == gomysql.MYSQL_TYPE_TIME2 {
			d.FSP = int(meta)
		}
	case gomysql.MYSQL_TYPE_YEAR:
		d.Type = mysqltype.Year
	case typeEnum:
		d.Type = mysqltype.Enum
	case typeSet:
		d.Type = mysqltype.Set
	case gomysql.MYSQL_TYPE_JSON:
		d.Type = mysqltype.JSON
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING, typeString,
		gomysql.MYSQL_TYPE_BLOB, gomysql.MYSQL_TYPE_TINY_BLOB, gomysql.MYSQL_TYPE_MEDIUM_BLOB,
		gomysql.MYSQL_TYPE_LONG_BLOB:
		d.Type = mysqltype.String
		if rt == typeString && info.binary {
			d.FixedBytes = length
		}
	case gomysql.MYSQL_TYPE_GEOMETRY:
		d.Type = mysqltype.Geometry
	default:
		return column{}, fmt.Errorf("column %q: unsupported binlog type %d", info.name, rt)
	}
	c, err := mysqltype.NewColumn(d)
	return column{c}, err
}

// convert turns a value decoded by go-mysql into the column's Change value.
func (c *column) convert(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Kind {
	case mysqltype.KindInt16, mysqltype.KindInt32, mysqltype.KindInt64, mysqltype.KindUint64Decimal:
		return c.convertInt(v)
	case mysqltype.KindDecimal:
		s, ok := v.(string)
		if !ok {
			break
		}
		return mysqltype.DecimalBytes(s, c.Scale)
	case mysqltype.KindFloat32:
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case mysqltype.KindFloat64:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	case mysqltype.KindBool, mysqltype.KindBits:
		if n, ok := v.(int64); ok {
			return c.BitValue(uint64(n)), nil
		}
	case mysqltype.KindZonedTimestamp:
		switch x := v.(type) {
		case string:
			return c.ZonedTimestampText(x)
		case fmt.Stringer:
			t, ok := timeOf(x)
			if !ok {
				return nil, fmt.Errorf("timestamp: unexpected value %v", x)
			}
			return c.ZonedTimestamp(t), nil
		}
		return nil, fmt.Errorf("timestamp: unexpected Go value %T", v)
	case mysqltype.KindTimestampMillis, mysqltype.KindTimestampMicros:
		if s, ok := v.(string); ok {
			return c.DatetimeText(s)
		}
		t, ok := timeOf(v)
		if !ok {
			return nil, fmt.Errorf("datetime: unexpected Go value %T", v)
		}
		return c.Datetime(t), nil
	case mysqltype.KindDate:
		if s, ok := v.(string); ok {
			return c.DateText(s)
		}
	case mysqltype.KindMicroTime:
		if s, ok := v.(string); ok {
			return mysqltype.ParseMicroTime(s)
		}
	case mysqltype.KindYear:
		if n, ok := v.(int); ok {
			return int32(n), nil
		}
	case mysqltype.KindEnum:
		if n, ok := v.(int64); ok {
			return c.EnumMember(n)
		}
	case mysqltype.KindSet:
		if n, ok := v.(int64); ok {
			return c.SetMembers(n)
		}
	case mysqltype.KindString, mysqltype.KindJSON:
		switch x := v.(type) {
		case string:
			return c.Text(x)
		case []byte:
			return c.Text(string(x))
		}
		return nil, fmt.Errorf("unexpected Go value %T", v)
	case mysqltype.KindBytes:
		switch x := v.(type) {
		case string:
			return c.Bytes([]byte(x)), nil
		case []byte:
			return c.Bytes(x), nil
		}
		return nil, fmt.Errorf("unexpected Go value %T", v)
	}
	return nil, fmt.Errorf("unexpected Go value %T", v)
}

// convertInt reads go-mysql's integer (signed even for unsigned columns
// when the binlog has no signedness metadata) with the column's sign.
func (c *column) convertInt(v any) (any, error) {
	var n int64
	var u uint64
	unsigned := false
	switch x := v.(type) {
	case int8:
		n = int64(x)
		if c.Unsigned {
			u, unsigned = uint64(uint8(x)), true
		}
	case uint8:
		u, unsigned = uint64(x), true
	case int16:
		n = int64(x)
		if c.Unsigned {
			u, unsigned = uint64(uint16(x)), true
		}
	case uint16:
		u, unsigned = uint64(x), true
	case int32:
		n = int64(x)
		if c.Unsigned {
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
		if c.Unsigned {
			u, unsigned = uint64(x), true
		}
	case uint64:
		u, unsigned = x, true
	default:
		return nil, fmt.Errorf("unexpected Go value %T", v)
	}
	return c.Int(n, u, unsigned), nil
}

// Helpers now in schemas/mysqltype, under the names this package's tests
// use.
var (
	decimalBytes    = mysqltype.DecimalBytes
	parseMicroTime  = mysqltype.ParseMicroTime
	parseEnumValues = mysqltype.ParseEnumValues
)

// timeOf extracts the time.Time that go-mysql's fracTime embeds.
func timeOf(v any) (time.Time, bool) {
	type timer interface{ UTC() time.Time }
	if t, ok := v.(timer); ok {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// Collation ids of MySQL's latin1 character set, and of "binary".
var latin1Collations = map[uint64]bool{5: true, 8: true, 15: true, 31: true, 47: true, 48: true, 49: true, 94: true}

const binaryCollation = 63
