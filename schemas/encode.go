package schemas

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// The encoder writes exactly Debezium 2.x/3.x's JsonConverter output, compact,
// in Debezium's field order:
//
//	{"before":…,"after":…,"source":{…},"transaction":…,"op":"c","ts_ms":…}
//
// (Debezium 2.x moved "transaction" before "op"; 1.x wrote it last.) The
// source block follows io.debezium.connector.{postgresql,mysql,mariadb}.Source.
// Differences from Debezium, on purpose:
//   - ts_us/ts_ns (envelope and source) are not written: Change carries
//     milliseconds only, and inventing the sub-millisecond digits would make
//     them look precise. Decoders must not need them.
//   - MySQL "thread" and "query" are written as null.
//
// Encoding is deterministic: the same Change always gives the same bytes
// (map parameters and map values are written in sorted key order, floats in
// Go's shortest round-trip form), so a replayed event is byte-identical.
//
// Unavailable values (unchanged TOAST, minimal row image) use Debezium's
// placeholders, as PostgreSQL's connector writes them:
//   - string (any semantic): "__debezium_unavailable_value"
//   - bytes (not decimals): the placeholder's UTF-8 bytes, base64
//   - array of string: ["__debezium_unavailable_value"]; array of bytes: [base64]
//   - array of int8/16/32/64: the placeholder's bytes as numbers [95,95,100,…]
//   - map: {"__debezium_unavailable_value":"__debezium_unavailable_value"}
//
// Any other type cannot carry a placeholder (Debezium never needs one: PG only
// TOASTs variable-length types, and MySQL's minimal image is a Debezium
// limitation it does not mark). sluice OMITS such a column from the row
// object; DecodeValue/ToDeltaValue callers treat a field that the schema has
// but the row lacks as Unavailable. Writing null instead would be a wrong
// value.

// EncodeKey returns the record key: the primary-key columns (c.Key) as a JSON
// object with values from After (Before for deletes), bare or wrapped with a
// "<prefix>.<ns>.<table>.Key" struct schema. A change without key columns
// returns nil (a null key), as Debezium does for tables without a key.
func EncodeKey(c *Change, withSchema bool) ([]byte, error) {
	if len(c.Key) == 0 {
		return nil, nil
	}
	row := c.After
	if row == nil {
		row = c.Before
	}
	if row == nil {
		return nil, fmt.Errorf("encode key %s: no row image", c.Table)
	}
	idx := make([]int, len(c.Key))
	for i, k := range c.Key {
		idx[i] = -1
		for j := range c.Columns {
			if c.Columns[j].Name == k {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 || idx[i] >= len(row) {
			return nil, fmt.Errorf("encode key %s: key column %q not in row", c.Table, k)
		}
	}
	b := make([]byte, 0, 128)
	if withSchema {
		b = append(b, `{"schema":{"type":"struct","fields":[`...)
		for i, j := range idx {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendColumnSchema(b, &c.Columns[j], c.Columns[j].Name)
		}
		b = append(b, `],"optional":false,"name":`...)
		b = appendString(b, c.Table.Topic(c.Source.Name)+".Key")
		b = append(b, `},"payload":`...)
	}
	b, err := appendKeyObject(b, c, idx, row)
	if err != nil {
		return nil, err
	}
	if withSchema {
		b = append(b, '}')
	}
	return b, nil
}

// EncodeValue returns the Debezium envelope of c, bare or wrapped as
// {"schema":…,"payload":…}. Errors name the table and column.
func EncodeValue(c *Change, withSchema bool) ([]byte, error) {
	if err := checkChangeShape(c); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 512+64*len(c.Columns))
	if withSchema {
		b = append(b, `{"schema":`...)
		var err error
		if b, err = appendEnvelopeSchema(b, c); err != nil {
			return nil, err
		}
		b = append(b, `,"payload":`...)
	}
	b, err := appendEnvelopePayload(b, c)
	if err != nil {
		return nil, err
	}
	if withSchema {
		b = append(b, '}')
	}
	return b, nil
}

// appendKeyObject writes the key columns idx of row as a JSON object.
func appendKeyObject(b []byte, c *Change, idx []int, row []any) ([]byte, error) {
	b = append(b, '{')
	for n, j := range idx {
		col := &c.Columns[j]
		if j >= len(row) {
			return nil, fmt.Errorf("encode key %s: key column %q not in row", c.Table, col.Name)
		}
		v := row[j]
		if _, ok := v.(Unavailable); ok {
			return nil, fmt.Errorf("encode key %s: key column %q unavailable", c.Table, col.Name)
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = appendString(b, col.Name)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, col, v); err != nil {
			return nil, fmt.Errorf("encode key %s: column %q: %w", c.Table, col.Name, err)
		}
	}
	return append(b, '}'), nil
}

func appendRow(b []byte, c *Change, row []any) ([]byte, error) {
	if row == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	n := 0
	for i := range c.Columns {
		col := &c.Columns[i]
		v := row[i]
		if _, ok := v.(Unavailable); ok && !canPlaceholder(col) {
			continue // see the package comment on Unavailable
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(b, col.Name)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, col, v); err != nil {
			return nil, fmt.Errorf("column %q: %w", col.Name, err)
		}
	}
	return append(b, '}'), nil
}

// canPlaceholder reports whether Debezium has a placeholder for col's type.
func canPlaceholder(col *Column) bool {
	switch col.Type {
	case String, Map:
		return true
	case Bytes:
		// A precise decimal's bytes are a number: the placeholder's bytes
		// would decode as a (wrong) value, so the field is left out.
		return col.Semantic != SemDecimal
	case Array:
		if col.Elem == nil {
			return false
		}
		switch col.Elem.Type {
		case String, Bytes, Int8, Int16, Int32, Int64:
			return true
		}
	}
	return false
}

func appendPlaceholder(b []byte, col *Column) []byte {
	switch col.Type {
	case String:
		return appendString(b, UnavailablePlaceholder)
	case Bytes:
		return appendBase64(b, []byte(UnavailablePlaceholder))
	case Map:
		b = append(b, '{')
		b = appendString(b, UnavailablePlaceholder)
		b = append(b, ':')
		b = appendString(b, UnavailablePlaceholder)
		return append(b, '}')
	}
	// Array
	switch col.Elem.Type {
	case String:
		b = append(b, '[')
		b = appendString(b, UnavailablePlaceholder)
		return append(b, ']')
	case Bytes:
		b = append(b, '[')
		b = appendBase64(b, []byte(UnavailablePlaceholder))
		return append(b, ']')
	}
	b = append(b, '[')
	for i := 0; i < len(UnavailablePlaceholder); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(UnavailablePlaceholder[i]), 10)
	}
	return append(b, ']')
}

// appendValue writes one Change value in Debezium's JSON form for col.
func appendValue(b []byte, col *Column, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case Unavailable:
		if !canPlaceholder(col) {
			return nil, errors.New("unavailable value has no placeholder for type " + string(col.Type))
		}
		return appendPlaceholder(b, col), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, errors.New("raw value is not JSON")
		}
		return append(b, x...), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		return appendFloat(b, x, 64)
	case float32:
		return appendFloat(b, float64(x), 32)
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x), nil
	case []byte:
		return appendBase64(b, x), nil
	case VariableScaleDecimal:
		b = append(b, `{"scale":`...)
		b = strconv.AppendInt(b, int64(x.Scale), 10)
		b = append(b, `,"value":`...)
		b = appendBase64(b, x.Value)
		return append(b, '}'), nil
	case []any:
		elem := col.Elem
		if elem == nil {
			elem = &Column{}
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, elem, e); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, &Column{}, x[k]); err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("unsupported Go value %T for %s", v, col.Type)
}

// appendFloat writes f like encoding/json does (shortest round-trip digits);
// NaN and ±Inf have no JSON form and are errors.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("float %v has no JSON form", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

func appendBase64(b []byte, p []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Like Jackson (and unlike
// encoding/json) it does not escape <, > and &; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain8 reports whether the 8 bytes of s need no escaping and are ASCII
// (no byte < 0x20, '"', '\\' or >= 0x80), testing them as one word:
// (x - 0x01…01·n) & ^x & 0x80…80 is non-zero exactly when some byte of x is
// below n (n <= 0x80), and x ^ 0x01…01·c has a zero byte where x has c.
func plain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	special := (x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs | x
	return special&highs == 0
}

// appendColumnSchema writes a Connect field schema in JsonConverter's key
// order: type, items/fields, optional, name, version, doc, parameters, field.
func appendColumnSchema(b []byte, col *Column, field string) []byte {
	typ := col.Type
	if col.Semantic == SemVariableScale {
		typ = Struct
	}
	b = append(b, `{"type":`...)
	b = appendString(b, string(typ))
	if typ == Array && col.Elem != nil {
		b = append(b, `,"items":`...)
		b = appendColumnSchema(b, col.Elem, "")
	}
	if col.Semantic == SemVariableScale {
		b = append(b, `,"fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]`...)
	}
	b = append(b, `,"optional":`...)
	b = strconv.AppendBool(b, col.Optional)
	if col.Semantic != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, col.Semantic)
		b = append(b, `,"version":1`...)
		if col.Semantic == SemVariableScale {
			b = append(b, `,"doc":"Variable scaled decimal"`...)
		}
	}
	if len(col.Params) > 0 {
		b = append(b, `,"parameters":{`...)
		keys := make([]string, 0, len(col.Params))
		for k := range col.Params {
			if k != "scale" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		if s, ok := col.Params["scale"]; ok {
			// Connect's Decimal writes scale first.
			keys = append([]string{"scale"}, keys...)
			_ = s
		}
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, col.Params[k])
		}
		b = append(b, '}')
	}
	if field != "" {
		b = append(b, `,"field":`...)
		b = appendString(b, field)
	}
	return append(b, '}')
}

func appendEnvelopeSchema(b []byte, c *Change) ([]byte, error) {
	srcSchema, ok := sourceSchemas[c.Source.Connector]
	if !ok {
		return nil, fmt.Errorf("encode %s: unknown connector %q", c.Table, c.Source.Connector)
	}
	base := c.Table.Topic(c.Source.Name)
	b = append(b, `{"type":"struct","fields":[`...)
	for i, which := range [2]string{"before", "after"} {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"struct","fields":[`...)
		for j := range c.Columns {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendColumnSchema(b, &c.Columns[j], c.Columns[j].Name)
		}
		b = append(b, `],"optional":true,"name":`...)
		b = appendString(b, base+".Value")
		b = append(b, `,"field":"`...)
		b = append(b, which...)
		b = append(b, `"}`...)
	}
	b = append(b, ',')
	b = append(b, srcSchema...)
	b = append(b, `,{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}`...)
	b = append(b, `,{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"}],"optional":false,"name":`...)
	b = appendString(b, base+".Envelope")
	b = append(b, `,"version":2}`...)
	return b, nil
}

const snapshotEnumSchema = `{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"}`

// sourceSchemas are the source block schemas per connector (Debezium 3.0,
// without ts_us/ts_ns).
var sourceSchemas = map[string]string{
	ConnectorPostgres: `{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},` + snapshotEnumSchema + `,{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"}`,
	ConnectorMySQL:    mysqlSourceSchema("mysql"),
	ConnectorMariaDB:  mysqlSourceSchema("mariadb"),
}

func mysqlSourceSchema(pkg string) string {
	return `{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},` + snapshotEnumSchema + `,{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"string","optional":true,"field":"table"},{"type":"int64","optional":false,"field":"server_id"},{"type":"string","optional":true,"field":"gtid"},{"type":"string","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"},{"type":"int32","optional":false,"field":"row"},{"type":"int64","optional":true,"field":"thread"},{"type":"string","optional":true,"field":"query"}],"optional":false,"name":"io.debezium.connector.` + pkg + `.Source","field":"source"}`
}

// AppendSource appends s as Debezium's source block for its connector. For
// PostgreSQL it writes sequence = ["<CommitLSN>","<LSN>"] (0 as null) and
// lsn/txId (0 as null).
func AppendSource(b []byte, s *Source) ([]byte, error) {
	b = append(b, `{"version":`...)
	b = appendString(b, s.Version)
	b = append(b, `,"connector":`...)
	b = appendString(b, s.Connector)
	b = append(b, `,"name":`...)
	b = appendString(b, s.Name)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, s.TsMs, 10)
	b = append(b, `,"snapshot":`...)
	snap := s.Snapshot
	if snap == "" {
		snap = "false"
	}
	b = appendString(b, snap)
	b = append(b, `,"db":`...)
	b = appendString(b, s.DB)
	switch s.Connector {
	case ConnectorPostgres:
		b = append(b, `,"sequence":`...)
		b = appendSequenceString(b, s.CommitLSN, s.LSN)
		b = append(b, `,"schema":`...)
		b = appendString(b, s.Schema)
		b = append(b, `,"table":`...)
		b = appendString(b, s.Table)
		b = append(b, `,"txId":`...)
		b = appendOptInt(b, s.TxID)
		b = append(b, `,"lsn":`...)
		if s.LSN == 0 {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendUint(b, s.LSN, 10)
		}
		b = append(b, `,"xmin":null}`...)
	case ConnectorMySQL, ConnectorMariaDB:
		b = append(b, `,"sequence":null,"table":`...)
		b = appendString(b, s.Table)
		b = append(b, `,"server_id":`...)
		b = strconv.AppendUint(b, uint64(s.ServerID), 10)
		b = append(b, `,"gtid":`...)
		if s.GTID == "" {
			b = append(b, "null"...)
		} else {
			b = appendString(b, s.GTID)
		}
		b = append(b, `,"file":`...)
		b = appendString(b, s.File)
		b = append(b, `,"pos":`...)
		b = strconv.AppendUint(b, s.Pos, 10)
		b = append(b, `,"row":`...)
		b = strconv.AppendInt(b, int64(s.Row), 10)
		b = append(b, `,"thread":null,"query":null}`...)
	default:
		return nil, fmt.Errorf("source: unknown connector %q", s.Connector)
	}
	return b, nil
}

// PostgresSequence formats Debezium's PostgreSQL "sequence" value:
// ["<commitLSN>","<lsn>"] with decimal strings, 0 written as null.
func PostgresSequence(commitLSN, lsn uint64) string {
	b := make([]byte, 0, 48)
	b = append(b, '[')
	b = appendLSNString(b, commitLSN)
	b = append(b, ',')
	b = appendLSNString(b, lsn)
	b = append(b, ']')
	return string(b)
}

// appendSequenceString appends PostgresSequence(commitLSN, lsn) as a JSON
// string (its quotes escaped), without building the string first.
func appendSequenceString(b []byte, commitLSN, lsn uint64) []byte {
	b = append(b, `"[`...)
	b = appendEscapedLSN(b, commitLSN)
	b = append(b, ',')
	b = appendEscapedLSN(b, lsn)
	return append(b, `]"`...)
}

func appendEscapedLSN(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, "null"...)
	}
	b = append(b, '\\', '"')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\\', '"')
}

func appendLSNString(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '"')
}

func appendOptInt(b []byte, v int64) []byte {
	if v == 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, v, 10)
}

// checkChangeShape validates c's op and row lengths before encoding.
func checkChangeShape(c *Change) error {
	switch c.Op {
	case OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate:
	default:
		return fmt.Errorf("encode %s: unknown op %q", c.Table, c.Op.String())
	}
	if c.Before != nil && len(c.Before) != len(c.Columns) {
		return fmt.Errorf("encode %s: before has %d values for %d columns", c.Table, len(c.Before), len(c.Columns))
	}
	if c.After != nil && len(c.After) != len(c.Columns) {
		return fmt.Errorf("encode %s: after has %d values for %d columns", c.Table, len(c.After), len(c.Columns))
	}
	return nil
}

// appendEnvelopePayload writes the bare envelope
// {"before":…,"after":…,"source":…,"transaction":…,"op":…,"ts_ms":…}
// shared by EncodeValue and TableEncoder.AppendValue.
func appendEnvelopePayload(b []byte, c *Change) ([]byte, error) {
	b = append(b, `{"before":`...)
	var err error
	if b, err = appendRow(b, c, c.Before); err != nil {
		return nil, fmt.Errorf("encode %s: before: %w", c.Table, err)
	}
	b = append(b, `,"after":`...)
	if b, err = appendRow(b, c, c.After); err != nil {
		return nil, fmt.Errorf("encode %s: after: %w", c.Table, err)
	}
	b = append(b, `,"source":`...)
	if b, err = AppendSource(b, &c.Source); err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.Table, err)
	}
	b = append(b, `,"transaction":`...)
	if c.Transaction == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = appendString(b, c.Transaction.ID)
		b = append(b, `,"total_order":`...)
		b = strconv.AppendInt(b, c.Transaction.TotalOrder, 10)
		b = append(b, `,"data_collection_order":`...)
		b = strconv.AppendInt(b, c.Transaction.DataCollectionOrder, 10)
		b = append(b, '}')
	}
	b = append(b, `,"op":"`...)
	b = append(b, byte(c.Op))
	b = append(b, `","ts_ms":`...)
	b = strconv.AppendInt(b, c.TsMs, 10)
	return append(b, '}'), nil
}
