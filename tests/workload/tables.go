package workload

import (
	"fmt"
	"strings"
)

// Dialect selects the SQL flavour and the column types of the tables.
type Dialect int

const (
	Postgres Dialect = iota
	MariaDB
)

func (d Dialect) String() string {
	if d == MariaDB {
		return "mariadb"
	}
	return "postgres"
}

// Kind says how a column's values are compared: it tells the test how to
// render the source value and the lake value in one canonical text form.
type Kind string

const (
	KindInt     Kind = "int"     // any integer type, YEAR
	KindDecimal Kind = "decimal" // exact decimal text with the column's scale
	KindFloat32 Kind = "float32" // PostgreSQL real, MariaDB FLOAT
	KindFloat64 Kind = "float64" // double precision
	KindBool    Kind = "bool"    // PostgreSQL boolean
	KindText    Kind = "text"    // text, varchar, enum
	KindBytes   Kind = "bytes"   // bytea, blob, varbinary
	KindDate    Kind = "date"
	KindTime    Kind = "time"      // time of day, compared as µs past midnight
	KindTs      Kind = "timestamp" // wall clock without zone, µs
	KindTsTz    Kind = "timestamptz"
	KindJSON    Kind = "json"
	KindUUID    Kind = "uuid"
)

// Column is one column of a generated table.
type Column struct {
	Name    string
	SQLType string
	Kind    Kind
	Key     bool
	// Big marks the large text column (> 8 KB values, TOASTed out of line
	// in PostgreSQL) that some updates leave untouched.
	Big bool
	gen func(g *Workload) string // SQL literal of a random non-NULL value
}

// Table is one generated table.
type Table struct {
	Name    string
	Columns []Column
}

// Keys returns the primary-key columns in key order.
func (t Table) Keys() []Column {
	var ks []Column
	for _, c := range t.Columns {
		if c.Key {
			ks = append(ks, c)
		}
	}
	return ks
}

// CreateSQL returns the CREATE TABLE statement in dialect d.
func (t Table) CreateSQL(d Dialect) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", t.Name)
	var keys []string
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.Name, c.SQLType)
		if c.Key {
			b.WriteString(" NOT NULL")
			keys = append(keys, c.Name)
		}
	}
	fmt.Fprintf(&b, ", PRIMARY KEY (%s))", strings.Join(keys, ", "))
	if d == MariaDB {
		b.WriteString(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")
	}
	return b.String()
}

// MarkerTable is the table whose rows mark points in the stream: the
// suites insert a marker and wait until it reaches Kafka. It is compared
// like every other table.
const MarkerTable = "e2e_marker"

func markerTable(d Dialect) Table {
	note := "text"
	if d == MariaDB {
		note = "varchar(100)"
	}
	return Table{Name: MarkerTable, Columns: []Column{
		{Name: "id", SQLType: "bigint", Kind: KindInt, Key: true},
		{Name: "note", SQLType: note, Kind: KindText},
	}}
}

// Tables returns the tables of dialect d, marker table last.
func Tables(d Dialect) []Table {
	if d == MariaDB {
		return mariaTables()
	}
	return postgresTables()
}

func postgresTables() []Table {
	return []Table{
		{Name: "e2e_types", Columns: []Column{
			{Name: "id", SQLType: "bigint", Kind: KindInt, Key: true, gen: genInt(1, 1<<40)},
			{Name: "c_int2", SQLType: "smallint", Kind: KindInt, gen: genInt(-32768, 32767)},
			{Name: "c_int4", SQLType: "integer", Kind: KindInt, gen: genInt(-2147483648, 2147483647)},
			{Name: "c_int8", SQLType: "bigint", Kind: KindInt, gen: genInt64},
			{Name: "c_num", SQLType: "numeric(18,4)", Kind: KindDecimal, gen: genDecimal(14, 4)},
			{Name: "c_num_wide", SQLType: "numeric(38,10)", Kind: KindDecimal, gen: genDecimal(28, 10)},
			{Name: "c_num_free", SQLType: "numeric", Kind: KindDecimal, gen: genFreeDecimal},
			{Name: "c_real", SQLType: "real", Kind: KindFloat32, gen: genFloat32},
			{Name: "c_double", SQLType: "double precision", Kind: KindFloat64, gen: genFloat64},
			{Name: "c_bool", SQLType: "boolean", Kind: KindBool, gen: genBool},
			{Name: "c_text", SQLType: "text", Kind: KindText, gen: genText(0, 200)},
			{Name: "c_varchar", SQLType: "varchar(64)", Kind: KindText, gen: genText(1, 64)},
			{Name: "c_bytea", SQLType: "bytea", Kind: KindBytes, gen: genBytes(0, 300)},
			{Name: "c_date", SQLType: "date", Kind: KindDate, gen: genDate},
			{Name: "c_ts", SQLType: "timestamp(6)", Kind: KindTs, gen: genTimestamp},
			{Name: "c_tstz", SQLType: "timestamptz", Kind: KindTsTz, gen: genTimestampTz},
			{Name: "c_time", SQLType: "time(6)", Kind: KindTime, gen: genTime},
			{Name: "c_json", SQLType: "json", Kind: KindJSON, gen: genJSON},
			{Name: "c_jsonb", SQLType: "jsonb", Kind: KindJSON, gen: genJSON},
			{Name: "c_uuid", SQLType: "uuid", Kind: KindUUID, gen: genUUID},
			{Name: "c_big", SQLType: "text", Kind: KindText, Big: true, gen: genBig},
		}},
		{Name: "e2e_composite", Columns: []Column{
			{Name: "tenant", SQLType: "integer", Kind: KindInt, Key: true, gen: genInt(1, 5)},
			{Name: "item", SQLType: "varchar(32)", Kind: KindText, Key: true, gen: genKeyText},
			{Name: "qty", SQLType: "integer", Kind: KindInt, gen: genInt(0, 1000)},
			{Name: "price", SQLType: "numeric(10,2)", Kind: KindDecimal, gen: genDecimal(8, 2)},
			{Name: "note", SQLType: "text", Kind: KindText, gen: genText(0, 50)},
			{Name: "updated", SQLType: "timestamptz", Kind: KindTsTz, gen: genTimestampTz},
		}},
		{Name: "e2e_textkey", Columns: []Column{
			{Name: "code", SQLType: "text", Kind: KindText, Key: true, gen: genKeyText},
			{Name: "label", SQLType: "varchar(100)", Kind: KindText, gen: genText(0, 100)},
			{Name: "amount", SQLType: "double precision", Kind: KindFloat64, gen: genFloat64},
			{Name: "payload", SQLType: "bytea", Kind: KindBytes, gen: genBytes(0, 64)},
			{Name: "doc", SQLType: "jsonb", Kind: KindJSON, gen: genJSON},
		}},
		markerTable(Postgres),
	}
}

func mariaTables() []Table {
	return []Table{
		{Name: "e2e_types", Columns: []Column{
			{Name: "id", SQLType: "bigint", Kind: KindInt, Key: true, gen: genInt(1, 1<<40)},
			{Name: "c_tiny", SQLType: "tinyint", Kind: KindInt, gen: genInt(-128, 127)},
			{Name: "c_bool", SQLType: "tinyint(1)", Kind: KindInt, gen: genInt(0, 1)},
			{Name: "c_small", SQLType: "smallint", Kind: KindInt, gen: genInt(-32768, 32767)},
			{Name: "c_medium", SQLType: "mediumint", Kind: KindInt, gen: genInt(-8388608, 8388607)},
			{Name: "c_int", SQLType: "int", Kind: KindInt, gen: genInt(-2147483648, 2147483647)},
			{Name: "c_uint", SQLType: "int unsigned", Kind: KindInt, gen: genInt(0, 4294967295)},
			{Name: "c_bigint", SQLType: "bigint", Kind: KindInt, gen: genInt64},
			{Name: "c_dec", SQLType: "decimal(18,4)", Kind: KindDecimal, gen: genDecimal(14, 4)},
			{Name: "c_dec_wide", SQLType: "decimal(38,10)", Kind: KindDecimal, gen: genDecimal(28, 10)},
			{Name: "c_float", SQLType: "float", Kind: KindFloat32, gen: genShortFloat32},
			{Name: "c_double", SQLType: "double", Kind: KindFloat64, gen: genShortFloat64},
			{Name: "c_varchar", SQLType: "varchar(64)", Kind: KindText, gen: genText(1, 64)},
			{Name: "c_text", SQLType: "text", Kind: KindText, gen: genText(0, 200)},
			{Name: "c_enum", SQLType: "enum('red','green','blue')", Kind: KindText, gen: genEnum},
			{Name: "c_blob", SQLType: "blob", Kind: KindBytes, gen: genBytes(0, 300)},
			{Name: "c_varbin", SQLType: "varbinary(32)", Kind: KindBytes, gen: genBytes(0, 32)},
			{Name: "c_date", SQLType: "date", Kind: KindDate, gen: genDate},
			{Name: "c_dt", SQLType: "datetime(6)", Kind: KindTs, gen: genTimestamp},
			{Name: "c_dt0", SQLType: "datetime", Kind: KindTs, gen: genTimestampSeconds},
			{Name: "c_ts", SQLType: "timestamp(6) NULL DEFAULT NULL", Kind: KindTsTz, gen: genMariaTimestamp},
			{Name: "c_time", SQLType: "time(6)", Kind: KindTime, gen: genTime},
			{Name: "c_year", SQLType: "year", Kind: KindInt, gen: genInt(1901, 2155)},
			{Name: "c_json", SQLType: "json", Kind: KindJSON, gen: genJSON},
			{Name: "c_big", SQLType: "longtext", Kind: KindText, Big: true, gen: genBig},
		}},
		{Name: "e2e_composite", Columns: []Column{
			{Name: "tenant", SQLType: "int", Kind: KindInt, Key: true, gen: genInt(1, 5)},
			{Name: "item", SQLType: "varchar(32)", Kind: KindText, Key: true, gen: genKeyText},
			{Name: "qty", SQLType: "int", Kind: KindInt, gen: genInt(0, 1000)},
			{Name: "price", SQLType: "decimal(10,2)", Kind: KindDecimal, gen: genDecimal(8, 2)},
			{Name: "note", SQLType: "text", Kind: KindText, gen: genText(0, 50)},
			{Name: "updated", SQLType: "datetime(6)", Kind: KindTs, gen: genTimestamp},
		}},
		{Name: "e2e_textkey", Columns: []Column{
			{Name: "code", SQLType: "varchar(64)", Kind: KindText, Key: true, gen: genKeyText},
			{Name: "label", SQLType: "varchar(100)", Kind: KindText, gen: genText(0, 100)},
			{Name: "amount", SQLType: "double", Kind: KindFloat64, gen: genShortFloat64},
			{Name: "payload", SQLType: "blob", Kind: KindBytes, gen: genBytes(0, 64)},
		}},
		markerTable(MariaDB),
	}
}
