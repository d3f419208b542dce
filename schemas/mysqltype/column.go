package mysqltype

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/schemas"
)

// Type is a MySQL column type family, as both the binlog's type codes and
// information_schema.COLUMNS.DATA_TYPE can name it.
type Type uint8

// Column type families.
const (
	Tiny      Type = iota + 1 // TINYINT (and BOOL)
	Short                     // SMALLINT
	Int24                     // MEDIUMINT
	Long                      // INT
	LongLong                  // BIGINT
	Decimal                   // DECIMAL/NUMERIC
	Float                     // FLOAT
	Double                    // DOUBLE/REAL
	Bit                       // BIT(n)
	Timestamp                 // TIMESTAMP(fsp)
	Datetime                  // DATETIME(fsp)
	Date                      // DATE
	Time                      // TIME(fsp)
	Year                      // YEAR
	Enum                      // ENUM
	Set                       // SET
	JSON                      // MySQL's native JSON
	String                    // CHAR, VARCHAR, TEXT, BINARY, VARBINARY, BLOB
	Geometry                  // spatial types
)

// Def describes one source column: what the mapping needs, whoever read it.
type Def struct {
	Name       string
	Type       Type
	SourceType string // DATA_TYPE in upper case ("INT", "LONGTEXT")
	Nullable   bool
	Unsigned   bool
	Precision  int      // DECIMAL precision
	Scale      int      // DECIMAL scale
	FSP        int      // TIMESTAMP/DATETIME/TIME fractional second digits
	Bits       int      // BIT length
	FixedBytes int      // BINARY(n): n (values are padded with 0x00 to it)
	Binary     bool     // String with the binary charset (bytes, not text)
	Latin1     bool     // String in MySQL's latin1 (cp1252)
	JSON       bool     // String declared JSON (MariaDB's JSON is LONGTEXT)
	Values     []string // ENUM/SET members in definition order
}

// Kind says how a column's value is built.
type Kind uint8

// Value kinds.
const (
	KindInt16 Kind = iota + 1
	KindInt32
	KindInt64
	KindUint64Decimal // BIGINT UNSIGNED: Decimal(20, 0), precise
	KindDecimal
	KindFloat32
	KindFloat64
	KindBool // BIT(1)
	KindBits
	KindZonedTimestamp
	KindTimestampMillis
	KindTimestampMicros
	KindDate
	KindMicroTime
	KindYear
	KindEnum
	KindSet
	KindString
	KindBytes
	KindJSON
)

// Column is a source column: its envelope description plus what value
// conversion needs.
type Column struct {
	schemas.Column
	Kind     Kind
	Unsigned bool
	Scale    int      // DECIMAL scale; TIMESTAMP fractional digits
	NBits    int      // BIT length
	Values   []string // ENUM/SET members, in definition order
	PadTo    int      // BINARY(n): values are right-padded with 0x00 to n bytes
	Latin1   bool     // text in MySQL's latin1 (cp1252), converted to UTF-8
}

// NewColumn maps d to its Debezium representation (Debezium's MySQL
// connector defaults with decimal.handling.mode=precise,
// time.precision.mode=adaptive_time_microseconds and BIGINT UNSIGNED as a
// precise Decimal).
func NewColumn(d Def) (Column, error) {
	c := Column{Unsigned: d.Unsigned}
	c.Name = d.Name
	c.Optional = d.Nullable
	c.SourceType = d.SourceType
	switch d.Type {
	case Tiny:
		c.Kind, c.Type = KindInt16, schemas.Int16
	case Short:
		if d.Unsigned {
			c.Kind, c.Type = KindInt32, schemas.Int32
		} else {
			c.Kind, c.Type = KindInt16, schemas.Int16
		}
	case Int24:
		c.Kind, c.Type = KindInt32, schemas.Int32
	case Long:
		if d.Unsigned {
			c.Kind, c.Type = KindInt64, schemas.Int64
		} else {
			c.Kind, c.Type = KindInt32, schemas.Int32
		}
	case LongLong:
		if d.Unsigned {
			c.Kind, c.Type, c.Semantic = KindUint64Decimal, schemas.Bytes, schemas.SemDecimal
			c.Params = map[string]string{"scale": "0", "connect.decimal.precision": "20"}
		} else {
			c.Kind, c.Type = KindInt64, schemas.Int64
		}
	case Decimal:
		c.Kind, c.Type, c.Semantic, c.Scale = KindDecimal, schemas.Bytes, schemas.SemDecimal, d.Scale
		c.Params = map[string]string{"scale": strconv.Itoa(d.Scale), "connect.decimal.precision": strconv.Itoa(d.Precision)}
	case Float:
		c.Kind, c.Type = KindFloat32, schemas.Float32
	case Double:
		c.Kind, c.Type = KindFloat64, schemas.Float64
	case Bit:
		c.NBits = d.Bits
		if c.NBits == 1 {
			c.Kind, c.Type = KindBool, schemas.Boolean
		} else {
			c.Kind, c.Type, c.Semantic = KindBits, schemas.Bytes, schemas.SemBits
			c.Params = map[string]string{"length": strconv.Itoa(c.NBits)}
		}
	case Timestamp:
		c.Kind, c.Type, c.Semantic, c.Scale = KindZonedTimestamp, schemas.String, schemas.SemZonedTimestamp, d.FSP
	case Datetime:
		if d.FSP <= 3 {
			c.Kind, c.Type, c.Semantic = KindTimestampMillis, schemas.Int64, schemas.SemTimestamp
		} else {
			c.Kind, c.Type, c.Semantic = KindTimestampMicros, schemas.Int64, schemas.SemMicroTimestamp
		}
	case Date:
		c.Kind, c.Type, c.Semantic = KindDate, schemas.Int32, schemas.SemDate
	case Time:
		c.Kind, c.Type, c.Semantic = KindMicroTime, schemas.Int64, schemas.SemMicroTime
	case Year:
		c.Kind, c.Type, c.Semantic = KindYear, schemas.Int32, schemas.SemYear
	case Enum, Set:
		c.Values = d.Values
		c.Type = schemas.String
		if d.Type == Enum {
			c.Kind, c.Semantic = KindEnum, schemas.SemEnum
		} else {
			c.Kind, c.Semantic = KindSet, schemas.SemEnumSet
		}
		c.Params = map[string]string{"allowed": strings.Join(d.Values, ",")}
	case JSON:
		c.Kind, c.Type, c.Semantic = KindJSON, schemas.String, schemas.SemJSON
	case String:
		switch {
		case d.JSON:
			c.Kind, c.Type, c.Semantic = KindJSON, schemas.String, schemas.SemJSON
		case d.Binary:
			c.Kind, c.Type, c.PadTo = KindBytes, schemas.Bytes, d.FixedBytes
		default:
			c.Kind, c.Type, c.Latin1 = KindString, schemas.String, d.Latin1
		}
	case Geometry:
		// TODO(mysql): Debezium's io.debezium.data.geometry.Geometry struct
		// (wkb + srid); the raw SRID+WKB bytes for now.
		c.Kind, c.Type = KindBytes, schemas.Bytes
	default:
		return c, fmt.Errorf("column %q: unsupported type %d", d.Name, d.Type)
	}
	return c, nil
}
