package mysql

import (
	"fmt"
	"strconv"

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
		return c.ZonedTimestampText(string(b))
	case mysqltype.KindTimestampMillis, mysqltype.KindTimestampMicros:
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
