package merge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// This file turns raw-table rows of one source table into changes: the
// decoded envelope, the primary key, and the column values converted to
// the SCD1 table's types. Columns the event does not carry (unchanged TOAST,
// minimal row image) are absent from change.values, never null.

// rawEvent is one raw-table row routed to a source table.
type rawEvent struct {
	rawVersion int64
	topic      string
	partition  int32
	offset     int64
	ordKey     string
	sourceTs   time.Time // zero when unknown
	key, value []byte
}

func (e *rawEvent) String() string {
	return fmt.Sprintf("raw version %d topic %s partition %d offset %d", e.rawVersion, e.topic, e.partition, e.offset)
}

// decoded is a rawEvent with its envelope decoded.
type decoded struct {
	ev   *rawEvent
	env  *schemas.Envelope
	cols []schemas.DeltaColumn // from the event's schema; nil when schemaless
}

// change is one decoded row change in the SCD1 table's terms.
type change struct {
	ord      string
	op       schemas.Op
	sourceTs time.Time
	key      []any
	// oldKey is set when an update moved the row to a new key: the old key
	// is deleted at the same ordering key.
	oldKey []any
	// values holds the available after-image values by column index of the
	// table schema; for deletes, the before image (used by soft deletes).
	values map[int]any
}

// schemaCache holds the decoded Connect schema of schema-wrapped events by
// the schema's JSON text. Every event of a table carries the same few
// schemas, and decoding one costs more than the rest of the event (the
// profile of BenchmarkMerge: 75% of a merge went to decoding schemas).
type schemaCache map[string]*cachedSchema

type cachedSchema struct {
	before, after []schemas.Column
	cols          []schemas.DeltaColumn // of after, else before; shared read-only
	err           error
}

// decodeEvent decodes the envelope of ev and the Delta types of its schema.
// A schema seen before (in cache) is not decoded again. Decoded columns are
// shared between events and must not be modified.
func decodeEvent(ev *rawEvent, cache schemaCache) (decoded, error) {
	schemaRaw, payload, wrapped := schemas.SplitWrapped(ev.value)
	var cs *cachedSchema
	if wrapped {
		cs = cache[string(schemaRaw)]
	}
	var env *schemas.Envelope
	var err error
	if cs != nil {
		if cs.err != nil {
			return decoded{}, fmt.Errorf("%s: %w", ev, cs.err)
		}
		env, err = schemas.DecodeEnvelope(payload)
		if err == nil {
			env.BeforeColumns, env.AfterColumns, env.HasSchema = cs.before, cs.after, true
		}
	} else {
		env, err = schemas.DecodeEnvelope(ev.value)
	}
	if err != nil {
		return decoded{}, fmt.Errorf("%s: %w", ev, err)
	}
	d := decoded{ev: ev, env: env}
	if cs != nil {
		d.cols = cs.cols
	} else if cols := env.Columns(); cols != nil {
		d.cols = make([]schemas.DeltaColumn, len(cols))
		for i, c := range cols {
			t, err := schemas.DeltaTypeOf(c)
			if err != nil {
				if wrapped {
					cache[string(schemaRaw)] = &cachedSchema{err: err}
				}
				return decoded{}, fmt.Errorf("%s: %w", ev, err)
			}
			d.cols[i] = schemas.DeltaColumn{Name: c.Name, Type: t, Nullable: c.Optional}
		}
		if wrapped {
			cache[string(schemaRaw)] = &cachedSchema{before: env.BeforeColumns, after: env.AfterColumns, cols: d.cols}
		}
	}
	if d.ev.ordKey == "" {
		if d.ev.ordKey, err = env.Source.OrderingKey(); err != nil {
			return decoded{}, fmt.Errorf("%s: %w", ev, err)
		}
	}
	if d.ev.sourceTs.IsZero() && env.Source.TsMs != 0 {
		d.ev.sourceTs = time.UnixMilli(env.Source.TsMs).UTC()
	}
	return d, nil
}

// inferColumns types the columns of schemaless events from their values:
// the latest non-null value of each column decides (schemas.InferColumn).
// Columns the table already has keep the table's type.
func inferColumns(evs []decoded, table map[string]bool) []schemas.DeltaColumn {
	var order []string
	types := map[string]schemas.DeltaType{}
	seen := map[string]bool{}
	for _, d := range evs {
		if d.cols != nil {
			continue
		}
		row := d.env.After
		if row == nil {
			row = d.env.Before
		}
		for _, f := range row {
			if !seen[f.Name] {
				seen[f.Name] = true
				order = append(order, f.Name)
			}
			if table[f.Name] || bytes.Equal(bytes.TrimSpace(f.Raw), []byte("null")) {
				continue
			}
			t, err := schemas.DeltaTypeOf(schemas.InferColumn(f.Name, f.Raw))
			if err == nil {
				types[f.Name] = t
			}
		}
	}
	var cols []schemas.DeltaColumn
	for _, name := range order {
		if table[name] {
			continue
		}
		t, ok := types[name]
		if !ok {
			t = schemas.DeltaType{Name: schemas.DeltaString}
		}
		cols = append(cols, schemas.DeltaColumn{Name: name, Type: t, Nullable: true})
	}
	return cols
}

// connectColumnFor is the Connect column a schemaless value is read as,
// given the table column's Delta type.
func connectColumnFor(name string, t lakelog.DataType) schemas.Column {
	c := schemas.Column{Name: name, Optional: true, Type: schemas.String}
	switch t.TypeName() {
	case "long":
		c.Type = schemas.Int64
	case "integer":
		c.Type = schemas.Int32
	case "short":
		c.Type = schemas.Int16
	case "byte":
		c.Type = schemas.Int8
	case "double":
		c.Type = schemas.Float64
	case "float":
		c.Type = schemas.Float32
	case "boolean":
		c.Type = schemas.Boolean
	case "binary":
		c.Type = schemas.Bytes
	}
	return c
}

// rowValues converts a row image to table-typed values by column index.
// ErrUnavailable values and fields the schema has but the row lacks are
// left out, so the merge keeps the old value.
func rowValues(d decoded, row []schemas.Field, schemaCols []schemas.Column, schema *lakelog.StructType, index map[string]int) (map[int]any, error) {
	out := make(map[int]any, len(row))
	byName := make(map[string]*schemas.Column, len(schemaCols))
	for i := range schemaCols {
		byName[schemaCols[i].Name] = &schemaCols[i]
	}
	for _, f := range row {
		i, ok := index[f.Name]
		if !ok {
			return nil, fmt.Errorf("%s: column %q is not in the table schema", d.ev, f.Name)
		}
		field := schema.Fields[i]
		var v any
		var err error
		if c := byName[f.Name]; c != nil {
			v, err = schemas.ToDeltaValue(*c, f.Raw)
			if pt, ok := field.Type.(*lakelog.PrimitiveType); ok && err == nil && pt.Name == "decimal" && c.Semantic == schemas.SemDecimal {
				from, _ := strconv.Atoi(c.Params["scale"])
				v = rescaleDecimal(v, from, pt.Scale)
			}
		} else {
			c := connectColumnFor(f.Name, field.Type)
			raw := bytes.TrimSpace(f.Raw)
			if c.Type == schemas.String && len(raw) > 0 && raw[0] != '"' && !bytes.Equal(raw, []byte("null")) {
				v = string(raw) // schemaless: a non-string value in a string column keeps its JSON text
			} else {
				v, err = schemas.ToDeltaValue(c, raw)
			}
		}
		if errors.Is(err, schemas.ErrUnavailable) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.ev, err)
		}
		if v, err = coerce(v, field.Type); err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", d.ev, f.Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// coerce converts a value to the Go type of Delta type t when the table's
// type is wider than the event's (integer → long, float → double,
// decimal scale up, date → timestamp_ntz).
func coerce(v any, t lakelog.DataType) (any, error) {
	if v == nil {
		return nil, nil
	}
	p, ok := t.(*lakelog.PrimitiveType)
	if !ok {
		return v, nil
	}
	switch p.Name {
	case "long":
		if n, ok := asInt(v); ok {
			return n, nil
		}
	case "integer":
		if n, ok := asInt(v); ok {
			return int32(n), nil
		}
	case "short":
		if n, ok := asInt(v); ok {
			return int16(n), nil
		}
	case "double":
		switch x := v.(type) {
		case float32:
			return float64(x), nil
		case float64:
			return x, nil
		}
		if n, ok := asInt(v); ok {
			return float64(n), nil
		}
	case "decimal":
		// ToDeltaValue returns the unscaled value at the event's scale,
		// which coerce cannot see; rescaling happens in rescaleDecimal.
		if n, ok := asInt(v); ok {
			return new(big.Int).Mul(big.NewInt(n), pow10(p.Scale)), nil
		}
	case "string":
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("%T value for a string column", v)
		}
	}
	return v, nil
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// rescaleDecimal moves an unscaled decimal from scale from to the table's
// scale (never smaller: Evolve refuses scale decreases).
func rescaleDecimal(v any, from, to int) any {
	if n, ok := v.(*big.Int); ok && to > from {
		return new(big.Int).Mul(n, pow10(to-from))
	}
	return v
}

// kafkaKeyFields lists the fields of a Kafka record key, bare or
// schema-wrapped, in order. A null or empty key gives nil.
func kafkaKeyFields(key []byte) ([]schemas.Field, error) {
	key = bytes.TrimSpace(key)
	if len(key) == 0 || bytes.Equal(key, []byte("null")) {
		return nil, nil
	}
	fields, err := objectFields(key)
	if err != nil {
		return nil, err
	}
	var payload json.RawMessage
	wrapped := len(fields) > 0
	for _, f := range fields {
		switch f.Name {
		case "payload":
			payload = f.Raw
		case "schema":
		default:
			wrapped = false
		}
	}
	if wrapped && payload != nil {
		if bytes.Equal(bytes.TrimSpace(payload), []byte("null")) {
			return nil, nil
		}
		return objectFields(payload)
	}
	return fields, nil
}

// objectFields lists a JSON object's members in order.
func objectFields(raw []byte) ([]schemas.Field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("key is not a JSON object")
	}
	var out []schemas.Field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("key field %q: %w", name, err)
		}
		out = append(out, schemas.Field{Name: name, Raw: v})
	}
	return out, nil
}
