package schemas

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// DeltaType is a Delta Lake column type as plain data (schemas cannot import
// lakelog): Name is the Delta primitive name ("long", "decimal", "timestamp_ntz",
// …) or "array" with Element set.
type DeltaType struct {
	Name             string
	Precision, Scale int        // decimal only
	Element          *DeltaType // array only
}

// String returns Spark's type string: "long", "decimal(10,2)", "array<string>".
func (t DeltaType) String() string {
	switch t.Name {
	case "decimal":
		return "decimal(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")"
	case "array":
		if t.Element == nil {
			return "array<void>"
		}
		return "array<" + t.Element.String() + ">"
	}
	return t.Name
}

// Equal reports whether t and u are the same type.
func (t DeltaType) Equal(u DeltaType) bool { return t.String() == u.String() }

// NeedsTimestampNtz reports whether t is or contains timestamp_ntz, which
// requires the timestampNtz table feature (reader 3, writer 7).
func (t DeltaType) NeedsTimestampNtz() bool {
	if t.Name == "timestamp_ntz" {
		return true
	}
	return t.Element != nil && t.Element.NeedsTimestampNtz()
}

// Delta type names.
const (
	DeltaString       = "string"
	DeltaLong         = "long"
	DeltaInteger      = "integer"
	DeltaShort        = "short"
	DeltaByte         = "byte"
	DeltaFloat        = "float"
	DeltaDouble       = "double"
	DeltaBoolean      = "boolean"
	DeltaBinary       = "binary"
	DeltaDate         = "date"
	DeltaTimestamp    = "timestamp"
	DeltaTimestampNtz = "timestamp_ntz"
	DeltaDecimal      = "decimal"
	DeltaArray        = "array"
)

// MaxDecimalPrecision is Delta's (Spark's) decimal precision limit.
const MaxDecimalPrecision = 38

// DeltaTypeOf is THE mapping from a Connect column to a Delta type. The
// choices, exactness first:
//
//	int8/16/32/64 → byte/short/integer/long; float/double; boolean; string;
//	bytes → binary.
//	Decimal(scale, connect.decimal.precision p) → decimal(p,s); precision
//	  absent → decimal(38,s); p > 38 or s > p (PostgreSQL allows numeric(3,5))
//	  → string holding the exact decimal text.
//	VariableScaleDecimal (PostgreSQL numeric without precision) → string with
//	  the exact decimal text ("123.4500"): its scale differs per value and its
//	  digits are unbounded, so no decimal(p,s) holds every value.
//	Date, Connect Date → date.
//	Time (ms), MicroTime, NanoTime, Connect Time → long, microseconds past
//	  midnight (Delta has no time type; µs is PostgreSQL's and MySQL's
//	  precision; a NanoTime with sub-µs digits is a conversion error).
//	Timestamp, MicroTimestamp, NanoTimestamp, Connect Timestamp (no zone) →
//	  timestamp_ntz: the source value is a wall-clock reading without zone and
//	  timestamp_ntz stores exactly that; mapping it to timestamp would make
//	  readers shift it by their session zone. Tables that use it need the
//	  timestampNtz feature (see NeedsTimestampNtz).
//	ZonedTimestamp → timestamp (an instant; µs, sub-µs digits are an error).
//	ZonedTime, Json, Uuid, Enum, EnumSet, Xml, Interval string, and any
//	  unknown string semantic → string.
//	Year → integer. MicroDuration → long (µs). Bits → binary (Debezium's
//	  little-endian bytes, lossless).
//	array<T> → array<delta(T)>. map and struct (geometry, …) → string holding
//	  the JSON value.
func DeltaTypeOf(col Column) (DeltaType, error) {
	switch col.Semantic {
	case SemDecimal:
		s, p, err := decimalParams(col)
		if err != nil {
			return DeltaType{}, err
		}
		if p > MaxDecimalPrecision || s > p || s < 0 {
			return DeltaType{Name: DeltaString}, nil
		}
		return DeltaType{Name: DeltaDecimal, Precision: p, Scale: s}, nil
	case SemVariableScale:
		return DeltaType{Name: DeltaString}, nil
	case SemDate, SemConnectDate:
		return DeltaType{Name: DeltaDate}, nil
	case SemTime, SemMicroTime, SemNanoTime, SemConnectTime:
		return DeltaType{Name: DeltaLong}, nil
	case SemTimestamp, SemMicroTimestamp, SemNanoTimestamp, SemConnectTs:
		return DeltaType{Name: DeltaTimestampNtz}, nil
	case SemZonedTimestamp:
		return DeltaType{Name: DeltaTimestamp}, nil
	case SemYear:
		return DeltaType{Name: DeltaInteger}, nil
	case SemInterval:
		return DeltaType{Name: DeltaLong}, nil
	case SemBits:
		return DeltaType{Name: DeltaBinary}, nil
	}
	switch col.Type {
	case Int8:
		return DeltaType{Name: DeltaByte}, nil
	case Int16:
		return DeltaType{Name: DeltaShort}, nil
	case Int32:
		return DeltaType{Name: DeltaInteger}, nil
	case Int64:
		return DeltaType{Name: DeltaLong}, nil
	case Float32:
		return DeltaType{Name: DeltaFloat}, nil
	case Float64:
		return DeltaType{Name: DeltaDouble}, nil
	case Boolean:
		return DeltaType{Name: DeltaBoolean}, nil
	case String, Map, Struct:
		return DeltaType{Name: DeltaString}, nil
	case Bytes:
		return DeltaType{Name: DeltaBinary}, nil
	case Array:
		if col.Elem == nil {
			return DeltaType{}, fmt.Errorf("column %q: array without element schema", col.Name)
		}
		el, err := DeltaTypeOf(*col.Elem)
		if err != nil {
			return DeltaType{}, fmt.Errorf("column %q: element: %w", col.Name, err)
		}
		return DeltaType{Name: DeltaArray, Element: &el}, nil
	}
	return DeltaType{}, fmt.Errorf("column %q: unsupported Connect type %q", col.Name, col.Type)
}

func decimalParams(col Column) (scale, precision int, err error) {
	ss, ok := col.Params["scale"]
	if !ok {
		return 0, 0, fmt.Errorf("column %q: decimal without scale parameter", col.Name)
	}
	if scale, err = strconv.Atoi(ss); err != nil {
		return 0, 0, fmt.Errorf("column %q: decimal scale %q: %w", col.Name, ss, err)
	}
	precision = MaxDecimalPrecision
	if ps, ok := col.Params["connect.decimal.precision"]; ok {
		if precision, err = strconv.Atoi(ps); err != nil {
			return 0, 0, fmt.Errorf("column %q: decimal precision %q: %w", col.Name, ps, err)
		}
	}
	return scale, precision, nil
}

// ErrUnavailable is returned by ToDeltaValue and DecodeValue for Debezium's
// unavailable-value placeholder: the caller must keep the column's previous
// value, never write the placeholder.
var ErrUnavailable = errors.New("value unavailable (unchanged TOAST / minimal image)")

// ToDeltaValue converts a column's JSON value to the Go value lakelog's data
// files take for DeltaTypeOf(col) (see notes/datafile-api.md): int8/16/32/64,
// float32/64, bool, string, []byte, time.Time (UTC), *big.Int (unscaled
// decimal), []any (arrays), nil for JSON null. It is exact: numbers are
// parsed from their text, decimals never pass through float64. A placeholder
// gives ErrUnavailable. Errors name the column.
func ToDeltaValue(col Column, raw json.RawMessage) (any, error) {
	v, err := toDelta(col, raw)
	if err != nil && !errors.Is(err, ErrUnavailable) {
		return nil, fmt.Errorf("column %q: %w", col.Name, err)
	}
	return v, err
}

func toDelta(col Column, raw json.RawMessage) (any, error) {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty value")
	}
	if isNull(raw) {
		return nil, nil
	}
	if isPlaceholder(col, raw) {
		return nil, ErrUnavailable
	}
	switch col.Semantic {
	case SemDecimal:
		s, p, err := decimalParams(col)
		if err != nil {
			return nil, err
		}
		unscaled, err := bytesValue(raw)
		if err != nil {
			return nil, err
		}
		n := twosComplement(unscaled)
		if p > MaxDecimalPrecision || s > p || s < 0 {
			return decimalText(n, int32(s)), nil
		}
		if digits(n) > p {
			return nil, fmt.Errorf("decimal %s does not fit decimal(%d,%d)", decimalText(n, int32(s)), p, s)
		}
		return n, nil
	case SemVariableScale:
		var vs struct {
			Scale *int32 `json:"scale"`
			Value []byte `json:"value"`
		}
		if err := json.Unmarshal(raw, &vs); err != nil || vs.Scale == nil {
			return nil, fmt.Errorf("variable scale decimal %s: want {\"scale\":n,\"value\":base64}", raw)
		}
		return decimalText(twosComplement(vs.Value), *vs.Scale), nil
	case SemDate, SemConnectDate:
		d, err := intValue(raw)
		if err != nil {
			return nil, err
		}
		return time.Unix(d*86400, 0).UTC(), nil
	case SemTime, SemConnectTime:
		ms, err := intValue(raw)
		if err != nil {
			return nil, err
		}
		return ms * 1000, nil
	case SemMicroTime, SemInterval:
		return intValue(raw)
	case SemNanoTime:
		ns, err := intValue(raw)
		if err != nil {
			return nil, err
		}
		if ns%1000 != 0 {
			return nil, fmt.Errorf("nano time %d has sub-microsecond digits", ns)
		}
		return ns / 1000, nil
	case SemTimestamp, SemConnectTs:
		ms, err := intValue(raw)
		if err != nil {
			return nil, err
		}
		return time.UnixMilli(ms).UTC(), nil
	case SemMicroTimestamp:
		us, err := intValue(raw)
		if err != nil {
			return nil, err
		}
		return time.UnixMicro(us).UTC(), nil
	case SemNanoTimestamp:
		ns, err := intValue(raw)
		if err != nil {
			return nil, err
		}
		if ns%1000 != 0 {
			return nil, fmt.Errorf("nano timestamp %d has sub-microsecond digits", ns)
		}
		return time.Unix(0, ns).UTC(), nil
	case SemZonedTimestamp:
		s, err := rawString(raw)
		if err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("zoned timestamp %q: %w", s, err)
		}
		if t.Nanosecond()%1000 != 0 {
			return nil, fmt.Errorf("zoned timestamp %q has sub-microsecond digits", s)
		}
		return t.UTC(), nil
	case SemYear:
		v, err := intValue(raw)
		if err != nil {
			return nil, err
		}
		return int32(v), nil
	case SemBits:
		return bytesValue(raw)
	}
	switch col.Type {
	case Int8:
		v, err := intRange(raw, math.MinInt8, math.MaxInt8)
		return int8(v), err
	case Int16:
		v, err := intRange(raw, math.MinInt16, math.MaxInt16)
		return int16(v), err
	case Int32:
		v, err := intRange(raw, math.MinInt32, math.MaxInt32)
		return int32(v), err
	case Int64:
		return intValue(raw)
	case Float32:
		f, err := strconv.ParseFloat(string(raw), 32)
		if err != nil {
			return nil, fmt.Errorf("float %s: %w", raw, err)
		}
		return float32(f), nil
	case Float64:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("double %s: %w", raw, err)
		}
		return f, nil
	case Boolean:
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("boolean %s: not true/false", raw)
	case String:
		if raw[0] != '"' {
			return nil, fmt.Errorf("string %s: not a JSON string", raw)
		}
		return rawString(raw)
	case Map, Struct:
		return string(raw), nil
	case Bytes:
		return bytesValue(raw)
	case Array:
		if col.Elem == nil {
			return nil, errors.New("array without element schema")
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, fmt.Errorf("array %s: %w", raw, err)
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			v, err := toDelta(*col.Elem, e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported Connect type %q", col.Type)
}

// isPlaceholder reports whether raw is Debezium's unavailable placeholder in
// the form encode.go documents for col's type.
func isPlaceholder(col Column, raw []byte) bool {
	switch col.Type {
	case String:
		return len(raw) == len(UnavailablePlaceholder)+2 && string(raw[1:len(raw)-1]) == UnavailablePlaceholder
	case Bytes:
		if col.Semantic == SemDecimal {
			return false // a decimal's bytes are a number, never a placeholder
		}
		return string(raw) == placeholderBase64
	case Array, Map:
		return bytes.Equal(raw, placeholderJSON(col))
	}
	return false
}

var placeholderBase64 = `"` + base64.StdEncoding.EncodeToString([]byte(UnavailablePlaceholder)) + `"`

func placeholderJSON(col Column) []byte {
	if !canPlaceholder(&col) {
		return nil
	}
	return appendPlaceholder(nil, &col)
}

func intValue(raw []byte) (int64, error) {
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %s: %w", raw, err)
	}
	return v, nil
}

func intRange(raw []byte, lo, hi int64) (int64, error) {
	v, err := intValue(raw)
	if err != nil {
		return 0, err
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("integer %d out of range [%d, %d]", v, lo, hi)
	}
	return v, nil
}

func bytesValue(raw []byte) ([]byte, error) {
	s, err := rawString(raw)
	if err != nil || raw[0] != '"' {
		return nil, fmt.Errorf("bytes %s: not a base64 string", raw)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bytes %q: %w", s, err)
	}
	return b, nil
}

// twosComplement reads big-endian two's-complement bytes (Connect Decimal).
func twosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

// TwosComplementBytes is the inverse of the Connect Decimal reading: the
// shortest big-endian two's-complement bytes of n, as Java's
// BigInteger.toByteArray writes them.
func TwosComplementBytes(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 has the complemented bits of n
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

func digits(n *big.Int) int {
	s := n.String()
	if s[0] == '-' {
		return len(s) - 1
	}
	return len(s)
}

// decimalText writes unscaled × 10^-scale exactly ("-1.50", "0.001", "1200").
func decimalText(unscaled *big.Int, scale int32) string {
	s := unscaled.String()
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	switch {
	case scale > 0:
		if len(s) <= int(scale) {
			s = strings.Repeat("0", int(scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	case scale < 0:
		if s != "0" {
			s += strings.Repeat("0", int(-scale))
		}
	}
	if neg {
		return "-" + s
	}
	return s
}

// InferColumn guesses a column from a value of a schemaless event (JsonConverter
// with schemas.enable=false). It is LOSSY by nature: a decimal arrives as a
// base64 string and is inferred as string, a timestamp as long, an integral
// double as long, and a later value may disagree with the first. JSON numbers
// without fraction or exponent → int64, other numbers → double, strings →
// string, true/false → boolean, objects and arrays → string (their JSON),
// null → optional string.
func InferColumn(name string, raw json.RawMessage) Column {
	c := Column{Name: name, Optional: true, Type: String}
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return c
	}
	switch raw[0] {
	case 't', 'f':
		c.Type = Boolean
	case '"', 'n', '{', '[':
		c.Type = String
		if raw[0] == '{' || raw[0] == '[' {
			c.Semantic = SemJSON
		}
	default:
		if bytes.ContainsAny(raw, ".eE") {
			c.Type = Float64
		} else if _, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			c.Type = Int64
		} else {
			c.Type = Float64
		}
	}
	return c
}

// DecodeValue converts a column's JSON value back to the Change form that
// EncodeValue takes (Change's doc): int64/int32/int16/int8, float32/64, bool,
// string, []byte (bytes and Decimal unscaled bytes), VariableScaleDecimal,
// []any, nil; the placeholder decodes to Unavailable{}. Time values stay in
// their integer/string form.
func DecodeValue(col Column, raw json.RawMessage) (any, error) {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("column %q: empty value", col.Name)
	}
	if isNull(raw) {
		return nil, nil
	}
	if isPlaceholder(col, raw) {
		return Unavailable{}, nil
	}
	var v any
	var err error
	switch {
	case col.Semantic == SemVariableScale:
		var vs struct {
			Scale int32  `json:"scale"`
			Value []byte `json:"value"`
		}
		err = json.Unmarshal(raw, &vs)
		v = VariableScaleDecimal{Scale: vs.Scale, Value: vs.Value}
	case col.Type == Int8:
		var x int64
		x, err = intRange(raw, math.MinInt8, math.MaxInt8)
		v = int8(x)
	case col.Type == Int16:
		var x int64
		x, err = intRange(raw, math.MinInt16, math.MaxInt16)
		v = int16(x)
	case col.Type == Int32:
		var x int64
		x, err = intRange(raw, math.MinInt32, math.MaxInt32)
		v = int32(x)
	case col.Type == Array:
		if col.Elem == nil {
			return nil, fmt.Errorf("column %q: array without element schema", col.Name)
		}
		var elems []json.RawMessage
		if err = json.Unmarshal(raw, &elems); err == nil {
			out := make([]any, len(elems))
			for i, e := range elems {
				if out[i], err = DecodeValue(*col.Elem, e); err != nil {
					break
				}
			}
			v = out
		}
	case col.Type == Map || col.Type == Struct:
		v = json.RawMessage(append([]byte(nil), raw...))
	default:
		v, err = toDelta(Column{Name: col.Name, Type: col.Type}, raw)
	}
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", col.Name, err)
	}
	return v, nil
}
