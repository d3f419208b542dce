package pgtext

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/schemas"
)

// Type is what the catalog says about a column's type.
type Type struct {
	OID    uint32
	Name   string   // pg_type.typname
	Kind   byte     // pg_type.typtype: 'b' base, 'e' enum, 'd' domain, ...
	Elem   uint32   // element type of an array type, 0 otherwise
	Base   uint32   // base type of a domain, 0 otherwise
	Labels []string // enum labels in sort order
}

// Decoder turns the text form of one value (as pgoutput and COPY … TO
// STDOUT send it) into its Debezium value.
type Decoder func(text string) (any, error)

// TypeLookup resolves a type OID that is not built in (enums, domains,
// arrays of user types).
type TypeLookup func(oid uint32) (Type, error)

// Built-in type OIDs not named by pgtype.
const (
	moneyOID    = 790
	moneyArrOID = 791
)

// builtinArrays maps built-in array type OIDs to their element OIDs, so the
// common cases need no catalog round trip.
var builtinArrays = map[uint32]uint32{
	pgtype.BoolArrayOID: pgtype.BoolOID, pgtype.ByteaArrayOID: pgtype.ByteaOID,
	pgtype.Int2ArrayOID: pgtype.Int2OID, pgtype.Int4ArrayOID: pgtype.Int4OID,
	pgtype.Int8ArrayOID: pgtype.Int8OID, pgtype.TextArrayOID: pgtype.TextOID,
	pgtype.VarcharArrayOID: pgtype.VarcharOID, pgtype.BPCharArrayOID: pgtype.BPCharOID,
	pgtype.Float4ArrayOID: pgtype.Float4OID, pgtype.Float8ArrayOID: pgtype.Float8OID,
	pgtype.NumericArrayOID: pgtype.NumericOID, pgtype.DateArrayOID: pgtype.DateOID,
	pgtype.TimeArrayOID: pgtype.TimeOID, pgtype.TimestampArrayOID: pgtype.TimestampOID,
	pgtype.TimestamptzArrayOID: pgtype.TimestamptzOID, pgtype.IntervalArrayOID: pgtype.IntervalOID,
	pgtype.UUIDArrayOID: pgtype.UUIDOID, pgtype.JSONArrayOID: pgtype.JSONOID,
	pgtype.JSONBArrayOID: pgtype.JSONBOID, pgtype.InetArrayOID: pgtype.InetOID,
	pgtype.CIDRArrayOID: pgtype.CIDROID, pgtype.OIDArrayOID: pgtype.OIDOID,
	pgtype.NameArrayOID: pgtype.NameOID, moneyArrOID: moneyOID,
}

// builtinNames are the source type names carried in Column.SourceType.
var builtinNames = map[uint32]string{
	pgtype.BoolOID: "BOOL", pgtype.ByteaOID: "BYTEA", pgtype.QCharOID: "CHAR", pgtype.NameOID: "NAME",
	pgtype.Int2OID: "INT2", pgtype.Int4OID: "INT4", pgtype.Int8OID: "INT8", pgtype.TextOID: "TEXT",
	pgtype.OIDOID: "OID", pgtype.JSONOID: "JSON", pgtype.JSONBOID: "JSONB", pgtype.XMLOID: "XML",
	pgtype.Float4OID: "FLOAT4", pgtype.Float8OID: "FLOAT8", moneyOID: "MONEY",
	pgtype.BPCharOID: "BPCHAR", pgtype.VarcharOID: "VARCHAR", pgtype.DateOID: "DATE",
	pgtype.TimeOID: "TIME", pgtype.TimetzOID: "TIMETZ", pgtype.TimestampOID: "TIMESTAMP",
	pgtype.TimestamptzOID: "TIMESTAMPTZ", pgtype.IntervalOID: "INTERVAL", pgtype.BitOID: "BIT",
	pgtype.VarbitOID: "VARBIT", pgtype.NumericOID: "NUMERIC", pgtype.UUIDOID: "UUID",
	pgtype.InetOID: "INET", pgtype.CIDROID: "CIDR", pgtype.MacaddrOID: "MACADDR",
}

// monthMicros is Debezium's MicroDuration month: 365.25/12 days, exactly
// 2,629,800 seconds.
const monthMicros = 2_629_800_000_000

// MapColumn returns the Debezium column and the value decoder for a column
// of type oid with modifier typmod (pg_attribute.atttypmod, -1 when none).
func MapColumn(name string, oid uint32, typmod int32, lookup TypeLookup) (schemas.Column, Decoder, error) {
	col := schemas.Column{Name: name, Optional: true}
	dec, err := mapType(&col, oid, typmod, lookup, 0)
	if err != nil {
		return schemas.Column{}, nil, fmt.Errorf("column %q: %w", name, err)
	}
	return col, dec, nil
}

func mapType(col *schemas.Column, oid uint32, typmod int32, lookup TypeLookup, depth int) (Decoder, error) {
	if depth > 8 {
		return nil, fmt.Errorf("type %d: domains nested too deeply", oid)
	}
	col.SourceType = builtinNames[oid]
	switch oid {
	case pgtype.BoolOID:
		col.Type = schemas.Boolean
		return decodeBool, nil
	case pgtype.Int2OID:
		col.Type = schemas.Int16
		return decodeInt(16, func(v int64) any { return int16(v) }), nil
	case pgtype.Int4OID:
		col.Type = schemas.Int32
		return decodeInt(32, func(v int64) any { return int32(v) }), nil
	case pgtype.Int8OID, pgtype.OIDOID:
		col.Type = schemas.Int64
		return decodeInt(64, func(v int64) any { return v }), nil
	case pgtype.Float4OID:
		col.Type = schemas.Float32
		return decodeFloat32, nil
	case pgtype.Float8OID:
		col.Type = schemas.Float64
		return decodeFloat64, nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.QCharOID,
		pgtype.InetOID, pgtype.CIDROID, pgtype.MacaddrOID, pgtype.Macaddr8OID:
		col.Type = schemas.String
		return decodeString, nil
	case pgtype.JSONOID, pgtype.JSONBOID:
		col.Type, col.Semantic = schemas.String, schemas.SemJSON
		return decodeString, nil
	case pgtype.XMLOID:
		col.Type, col.Semantic = schemas.String, schemas.SemXML
		return decodeString, nil
	case pgtype.UUIDOID:
		col.Type, col.Semantic = schemas.String, schemas.SemUUID
		return decodeString, nil
	case pgtype.ByteaOID:
		col.Type = schemas.Bytes
		return decodeBytea, nil
	case pgtype.NumericOID:
		if typmod < 4 {
			// Unconstrained NUMERIC: Debezium's precise mode cannot give
			// a fixed scale, so it uses VariableScaleDecimal.
			col.Type, col.Semantic = schemas.Struct, schemas.SemVariableScale
			return decodeVariableScale, nil
		}
		precision := ((typmod - 4) >> 16) & 0xffff
		scale := int32(int16((typmod - 4) & 0xffff))
		col.Type, col.Semantic = schemas.Bytes, schemas.SemDecimal
		col.Params = map[string]string{
			"scale":                     strconv.Itoa(int(scale)),
			"connect.decimal.precision": strconv.Itoa(int(precision)),
		}
		return decodeDecimal(scale), nil
	case moneyOID:
		// money.fraction.digits defaults to 2 in Debezium.
		col.Type, col.Semantic = schemas.Bytes, schemas.SemDecimal
		col.Params = map[string]string{"scale": "2"}
		return decodeMoney, nil
	case pgtype.DateOID:
		col.Type, col.Semantic = schemas.Int32, schemas.SemDate
		return decodeDate, nil
	case pgtype.TimeOID:
		if typmod >= 0 && typmod <= 3 {
			col.Type, col.Semantic = schemas.Int32, schemas.SemTime
			return decodeTime(true), nil
		}
		col.Type, col.Semantic = schemas.Int64, schemas.SemMicroTime
		return decodeTime(false), nil
	case pgtype.TimetzOID:
		col.Type, col.Semantic = schemas.String, schemas.SemZonedTime
		return decodeTimetz, nil
	case pgtype.TimestampOID:
		if typmod >= 0 && typmod <= 3 {
			col.Type, col.Semantic = schemas.Int64, schemas.SemTimestamp
			return decodeTimestamp(true), nil
		}
		col.Type, col.Semantic = schemas.Int64, schemas.SemMicroTimestamp
		return decodeTimestamp(false), nil
	case pgtype.TimestamptzOID:
		col.Type, col.Semantic = schemas.String, schemas.SemZonedTimestamp
		return decodeTimestamptz, nil
	case pgtype.IntervalOID:
		col.Type, col.Semantic = schemas.Int64, schemas.SemInterval
		return decodeInterval, nil
	case pgtype.BitOID, pgtype.VarbitOID:
		if oid == pgtype.BitOID && typmod == 1 {
			col.Type = schemas.Boolean
			return decodeBit1, nil
		}
		length := typmod
		if length < 0 {
			length = math.MaxInt32
		}
		col.Type, col.Semantic = schemas.Bytes, schemas.SemBits
		col.Params = map[string]string{"length": strconv.Itoa(int(length))}
		return decodeBits, nil
	}
	if elem, ok := builtinArrays[oid]; ok {
		return mapArray(col, elem, typmod, lookup, depth)
	}
	if lookup == nil {
		col.Type = schemas.String
		return decodeString, nil
	}
	t, err := lookup(oid)
	if err != nil {
		return nil, err
	}
	switch {
	case t.Kind == 'e':
		col.Type, col.Semantic, col.SourceType = schemas.String, schemas.SemEnum, strings.ToUpper(t.Name)
		col.Params = map[string]string{"allowed": strings.Join(t.Labels, ",")}
		return decodeString, nil
	case t.Kind == 'd' && t.Base != 0:
		return mapType(col, t.Base, typmod, lookup, depth+1)
	case t.Elem != 0:
		return mapArray(col, t.Elem, typmod, lookup, depth)
	default:
		// Ranges, geometry, tsvector, hstore, composites: the server's text
		// form, unchanged. TODO: Debezium's Geometry/Point structs and hstore
		// maps.
		col.Type, col.SourceType = schemas.String, strings.ToUpper(t.Name)
		return decodeString, nil
	}
}

func mapArray(col *schemas.Column, elemOID uint32, typmod int32, lookup TypeLookup, depth int) (Decoder, error) {
	elem := &schemas.Column{Name: col.Name, Optional: true}
	elemDec, err := mapType(elem, elemOID, typmod, lookup, depth+1)
	if err != nil {
		return nil, err
	}
	col.Type, col.Elem = schemas.Array, elem
	col.SourceType = "_" + elem.SourceType
	// box is the only built-in type whose array delimiter is ';'; we do not
	// map it, so ',' is always right here.
	return func(text string) (any, error) { return parseArray(text, ',', elemDec) }, nil
}

func decodeBool(s string) (any, error) {
	switch s {
	case "t":
		return true, nil
	case "f":
		return false, nil
	}
	return nil, fmt.Errorf("bool %q", s)
}

func decodeInt(bits int, conv func(int64) any) Decoder {
	return func(s string) (any, error) {
		v, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, err
		}
		return conv(v), nil
	}
}

func decodeFloat32(s string) (any, error) {
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return nil, err
	}
	return float32(v), nil
}

func decodeFloat64(s string) (any, error) { return strconv.ParseFloat(s, 64) }

func decodeString(s string) (any, error) { return s, nil }

// decodeBytea reads bytea's hex output (bytea_output=hex, the default since
// 9.0) and, for safety, the old escape format.
func decodeBytea(s string) (any, error) {
	if strings.HasPrefix(s, `\x`) {
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, fmt.Errorf("bytea: %w", err)
		}
		return b, nil
	}
	return unescapeBytea(s)
}

func parseNumeric(s string) (pgtype.Numeric, error) {
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil {
		return n, fmt.Errorf("numeric %q: %w", s, err)
	}
	return n, nil
}

// decodeDecimal returns the unscaled value at the column's scale as Connect
// Decimal bytes. NaN has no Decimal form; like Debezium's precise mode it
// becomes null.
func decodeDecimal(scale int32) Decoder {
	return func(s string) (any, error) {
		if b, ok := fastDecimal(s, scale); ok {
			return b, nil
		}
		n, err := parseNumeric(s)
		if err != nil {
			return nil, err
		}
		if n.NaN || n.InfinityModifier != pgtype.Finite {
			return nil, nil
		}
		unscaled, err := rescale(n.Int, n.Exp, scale)
		if err != nil {
			return nil, fmt.Errorf("numeric %q: %w", s, err)
		}
		return twosComplement(unscaled), nil
	}
}

// decodeVariableScale gives Debezium's VariableScaleDecimal struct.
func decodeVariableScale(s string) (any, error) {
	n, err := parseNumeric(s)
	if err != nil {
		return nil, err
	}
	if n.NaN || n.InfinityModifier != pgtype.Finite {
		return nil, nil
	}
	scale := int32(0)
	if n.Exp < 0 {
		scale = -n.Exp
	}
	unscaled, err := rescale(n.Int, n.Exp, scale)
	if err != nil {
		return nil, fmt.Errorf("numeric %q: %w", s, err)
	}
	return schemas.VariableScaleDecimal{Scale: scale, Value: twosComplement(unscaled)}, nil
}

// rescale returns v·10^exp expressed as an integer at the given scale.
func rescale(v *big.Int, exp, scale int32) (*big.Int, error) {
	shift := exp + scale
	out := new(big.Int).Set(v)
	if shift >= 0 {
		return out.Mul(out, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil)), nil
	}
	div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-shift)), nil)
	q, r := new(big.Int).QuoRem(out, div, new(big.Int))
	if r.Sign() != 0 {
		return nil, fmt.Errorf("more fractional digits than scale %d", scale)
	}
	return q, nil
}

// twosComplement is Java's BigInteger.toByteArray: the shortest big-endian
// two's-complement encoding.
func twosComplement(v *big.Int) []byte {
	if v.Sign() >= 0 {
		n := v.BitLen()/8 + 1
		out := make([]byte, n)
		v.FillBytes(out)
		return out
	}
	m := new(big.Int).Neg(v)
	m.Sub(m, big.NewInt(1))
	n := m.BitLen()/8 + 1
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	out := make([]byte, n)
	mod.Add(mod, v).FillBytes(out)
	return out
}

// decodeMoney reads money's lc_monetary output ("$1,234.56", "-$1.00") as a
// scale-2 decimal.
func decodeMoney(s string) (any, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		case r == '(':
			b.WriteRune('-')
		}
	}
	return decodeDecimal(2)(b.String())
}

func decodeDate(s string) (any, error) {
	switch s {
	case "infinity":
		return int32(math.MaxInt32), nil
	case "-infinity":
		return int32(math.MinInt32), nil
	}
	if days, ok := civilDate(s); ok {
		return int32(days), nil
	}
	var d pgtype.Date
	if err := d.Scan(s); err != nil {
		return nil, fmt.Errorf("date %q: %w", s, err)
	}
	days := floorDiv(d.Time.Unix(), 86400)
	return int32(days), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// parseClock reads "HH:MM:SS[.ffffff]" (24:00:00 allowed) as µs past midnight
// and returns the unparsed rest (a zone offset for timetz).
func parseClock(s string) (int64, string, error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, "", fmt.Errorf("time %q", s)
	}
	h, err1 := strconv.Atoi(s[0:2])
	m, err2 := strconv.Atoi(s[3:5])
	sec, err3 := strconv.Atoi(s[6:8])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, "", fmt.Errorf("time %q", s)
	}
	rest := s[8:]
	var frac int64
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		digits := rest[1:i]
		if len(digits) > 6 {
			return 0, "", fmt.Errorf("time %q: more than 6 fractional digits", s)
		}
		digits += strings.Repeat("0", 6-len(digits))
		f, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("time %q", s)
		}
		frac, rest = f, rest[i:]
	}
	return ((int64(h)*60+int64(m))*60+int64(sec))*1_000_000 + frac, rest, nil
}

func decodeTime(millis bool) Decoder {
	return func(s string) (any, error) {
		us, rest, err := parseClock(s)
		if err != nil {
			return nil, err
		}
		if rest != "" {
			return nil, fmt.Errorf("time %q", s)
		}
		if millis {
			return int32(us / 1000), nil
		}
		return us, nil
	}
}

// decodeTimetz converts to UTC and formats as Java's ISO_OFFSET_TIME does.
func decodeTimetz(s string) (any, error) {
	us, rest, err := parseClock(s)
	if err != nil {
		return nil, err
	}
	off, err := parseOffset(rest)
	if err != nil {
		return nil, fmt.Errorf("timetz %q: %w", s, err)
	}
	day := int64(86_400_000_000)
	utc := ((us-int64(off)*1_000_000)%day + day) % day
	t := time.UnixMicro(utc).UTC()
	return t.Format("15:04:05.999999") + "Z", nil
}

// parseOffset reads "+02", "-05:30", "+05:30:15" as seconds east of UTC.
func parseOffset(s string) (int, error) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("zone offset %q", s)
	}
	parts := strings.Split(s[1:], ":")
	secs := 0
	for i, mul := range []int{3600, 60, 1} {
		if i >= len(parts) {
			break
		}
		v, err := strconv.Atoi(parts[i])
		if err != nil {
			return 0, fmt.Errorf("zone offset %q", s)
		}
		secs += v * mul
	}
	if s[0] == '-' {
		secs = -secs
	}
	return secs, nil
}

func decodeTimestamp(millis bool) Decoder {
	return func(s string) (any, error) {
		switch s {
		case "infinity":
			return int64(math.MaxInt64), nil
		case "-infinity":
			return int64(math.MinInt64), nil
		}
		if us, ok := fastTimestamp(s); ok {
			if millis {
				return floorDiv(us, 1000), nil
			}
			return us, nil
		}
		var ts pgtype.Timestamp
		if err := ts.Scan(s); err != nil {
			return nil, fmt.Errorf("timestamp %q: %w", s, err)
		}
		if millis {
			return ts.Time.UnixMilli(), nil
		}
		return ts.Time.UnixMicro(), nil
	}
}

// decodeTimestamptz formats in UTC as Java's ISO_OFFSET_DATE_TIME does:
// fraction without trailing zeros, "Z" for UTC.
func decodeTimestamptz(s string) (any, error) {
	switch s {
	case "infinity", "-infinity":
		return s, nil
	}
	if out, ok := fastTimestamptz(s); ok {
		return out, nil
	}
	var ts pgtype.Timestamptz
	if err := ts.Scan(s); err != nil {
		return nil, fmt.Errorf("timestamptz %q: %w", s, err)
	}
	return ts.Time.UTC().Format("2006-01-02T15:04:05.999999Z07:00"), nil
}

func decodeInterval(s string) (any, error) {
	var iv pgtype.Interval
	if err := iv.Scan(s); err != nil {
		return nil, fmt.Errorf("interval %q: %w", s, err)
	}
	return int64(iv.Months)*monthMicros + int64(iv.Days)*86_400_000_000 + iv.Microseconds, nil
}

func decodeBit1(s string) (any, error) {
	switch s {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return nil, fmt.Errorf("bit(1) %q", s)
}

// decodeBits reads a bit string ("1011", most significant bit first) as
// Debezium does: the number it spells, little-endian, in ceil(n/8) bytes.
func decodeBits(s string) (any, error) {
	out := make([]byte, (len(s)+7)/8)
	for i := 0; i < len(s); i++ {
		bit := len(s) - 1 - i // weight of s[i]
		switch s[i] {
		case '1':
			out[bit/8] |= 1 << (bit % 8)
		case '0':
		default:
			return nil, fmt.Errorf("bit string %q", s)
		}
	}
	return out, nil
}

// unescapeBytea reads bytea_output=escape: backslash-octal digits and a doubled backslash.
func unescapeBytea(s string) (any, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if i+4 > len(s) {
			return nil, fmt.Errorf("bytea escape at %d", i)
		}
		v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return nil, fmt.Errorf("bytea escape at %d: %w", i, err)
		}
		out = append(out, byte(v))
		i += 3
	}
	return out, nil
}
