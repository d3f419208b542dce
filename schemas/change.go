package schemas

import "fmt"

// Op is the Debezium operation code of a change.
type Op byte

// Operation codes, as they appear in the envelope's "op" field.
const (
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // snapshot read
	OpTruncate Op = 't'
)

// ParseOp maps the envelope's "op" string to an Op.
func ParseOp(s string) (Op, error) {
	if len(s) == 1 {
		switch op := Op(s[0]); op {
		case OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate:
			return op, nil
		}
	}
	return 0, fmt.Errorf("unknown op %q", s)
}

func (o Op) String() string { return string(rune(o)) }

// TableID names a source table. For PostgreSQL Database is the database and
// Schema the namespace; for MySQL/MariaDB Schema is empty.
type TableID struct {
	Database string
	Schema   string
	Table    string
}

// String returns db.schema.table (or db.table when Schema is empty).
func (t TableID) String() string {
	if t.Schema == "" {
		return t.Database + "." + t.Table
	}
	return t.Database + "." + t.Schema + "." + t.Table
}

// Topic returns the Debezium topic name: <prefix>.<schema or db>.<table>.
func (t TableID) Topic(prefix string) string {
	ns := t.Schema
	if ns == "" {
		ns = t.Database
	}
	return prefix + "." + ns + "." + t.Table
}

// Unavailable marks a column value the source did not send (PostgreSQL
// unchanged TOAST, MySQL minimal row image). It must never be replaced by a
// guess: encoders write Debezium's placeholder, the merge keeps the old value.
type Unavailable struct{}

// UnavailablePlaceholder is Debezium's default
// unavailable.value.placeholder for string columns.
const UnavailablePlaceholder = "__debezium_unavailable_value"

// Change is one row change of a source table, as capture produces it and as
// ingest/merge read it back from a Debezium envelope.
//
// Before and After are aligned with Columns (After[i] is the value of
// Columns[i]); a nil slice means "absent" (no before-image on insert, no
// after-image on delete). Values are in Debezium's logical JSON form for the
// column's Connect type: int64/int32/int16/int8, float32/float64, bool,
// string, []byte (bytes and precise decimals), nil, Unavailable{}, []any for
// arrays, and time values already converted to the integer/string form the
// column's semantic type dictates (see Column.Semantic).
type Change struct {
	Table   TableID
	Op      Op
	Columns []Column
	// Key names the primary-key columns, in key order.
	Key    []string
	Before []any
	After  []any
	Source Source
	// TsMs is when the connector processed the event (envelope ts_ms).
	TsMs int64
	// Transaction is the optional envelope "transaction" block; nil encodes
	// as null.
	Transaction *Transaction
}

// VariableScaleDecimal is the Change value of an io.debezium.data.
// VariableScaleDecimal column: Value is the big-endian two's-complement
// unscaled integer, as in a Connect Decimal.
type VariableScaleDecimal struct {
	Scale int32
	Value []byte
}
