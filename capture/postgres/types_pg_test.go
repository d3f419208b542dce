package postgres

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestTypesFromPostgres inserts one row of every supported type into a real
// PostgreSQL and checks the decoded values against hand-computed Debezium
// forms (days, µs and two's-complement bytes worked out independently).
func TestTypesFromPostgres(t *testing.T) {
	dsn := testDB(t)
	execSQL(t, dsn,
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)`,
		`CREATE TABLE alltypes (
			id int8 PRIMARY KEY, i2 int2, i4 int4, num numeric(10,2), bignum numeric(38,10), anynum numeric,
			f4 float4, f8 float8, b bool, t text, vc varchar(5), ch char(3), by bytea,
			d date, tm time, tm3 time(3), ts timestamp, ts3 timestamp(3), tstz timestamptz, ttz timetz,
			iv interval, j json, jb jsonb, u uuid, m mood, ia int4[], ta text[], b1 bit(1), b10 bit(10),
			vb varbit, ip inet, cd cidr, mo money, dom posint, nul text, ma mood[])`,
	)
	slot := testSlot("s_types")
	cfg := Config{DSN: dsn, SlotName: slot, Publication: "p_types", AllTables: true, TopicPrefix: "pfx"}
	s := startStream(t, cfg, "")
	waitSlot(t, dsn, slot)
	execSQL(t, dsn, `INSERT INTO alltypes VALUES (
		9223372036854775807, -3, 2147483647, -123.45, 12345678901234567890.0123456789, 1.5,
		1.5, -2.25, true, 'hello', 'abc', 'ab', '\xdeadbeef',
		'2024-01-02', '03:04:05.123456', '03:04:05.123', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123',
		'2024-01-02 03:04:05.123456+02', '03:04:05+02',
		'1 mon 2 days 00:00:03', '{"a": 1}', '{"b":2,"a":1}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'happy',
		'{1,NULL,3}', '{"a b","c\"d"}', B'1', B'1000000001', B'101', '192.168.0.1/24', '10.0.0.0/8', 12.34, 7, NULL,
		'{sad,happy}')`)
	_, changes := s.collect(t, 1)
	c := changes[0]
	want := map[string]any{
		"id": int64(9223372036854775807), "i2": int16(-3), "i4": int32(2147483647),
		"num":    mustHex("cfc7"),
		"bignum": mustHex("018ee90ff6c373e0ee0c04d515"),
		"anynum": schemas.VariableScaleDecimal{Scale: 1, Value: []byte{0x0f}},
		"f4":     float32(1.5), "f8": float64(-2.25), "b": true, "t": "hello", "vc": "abc", "ch": "ab ",
		"by":   mustHex("deadbeef"),
		"d":    int32(19724),
		"tm":   int64(11045123456),
		"tm3":  int32(11045123),
		"ts":   int64(1704164645123456),
		"ts3":  int64(1704164645123),
		"tstz": "2024-01-02T01:04:05.123456Z",
		"ttz":  "01:04:05Z",
		"iv":   int64(2802603000000),
		"j":    `{"a": 1}`, "jb": `{"a": 1, "b": 2}`,
		"u":  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"m":  "happy",
		"ia": []any{int32(1), nil, int32(3)},
		"ta": []any{"a b", `c"d`},
		"b1": true, "b10": []byte{0x01, 0x02}, "vb": []byte{0x05},
		"ip": "192.168.0.1/24", "cd": "10.0.0.0/8",
		"mo":  mustHex("04d2"),
		"dom": int32(7), "nul": nil,
		"ma": []any{"sad", "happy"},
	}
	wantCol := map[string][2]string{ // name → {connect type, semantic}
		"num": {"bytes", schemas.SemDecimal}, "anynum": {"struct", schemas.SemVariableScale},
		"d": {"int32", schemas.SemDate}, "tm": {"int64", schemas.SemMicroTime}, "tm3": {"int32", schemas.SemTime},
		"ts": {"int64", schemas.SemMicroTimestamp}, "ts3": {"int64", schemas.SemTimestamp},
		"tstz": {"string", schemas.SemZonedTimestamp}, "ttz": {"string", schemas.SemZonedTime},
		"iv": {"int64", schemas.SemInterval}, "j": {"string", schemas.SemJSON}, "jb": {"string", schemas.SemJSON},
		"u": {"string", schemas.SemUUID}, "m": {"string", schemas.SemEnum}, "b1": {"boolean", ""},
		"b10": {"bytes", schemas.SemBits}, "ia": {"array", ""}, "dom": {"int32", ""}, "mo": {"bytes", schemas.SemDecimal},
	}
	if c.Op != schemas.OpCreate || c.Before != nil {
		t.Fatalf("op = %v before = %v, want c with no before", c.Op, c.Before)
	}
	if len(c.Columns) != len(want) {
		t.Errorf("got %d columns, want %d", len(c.Columns), len(want))
	}
	for i, col := range c.Columns {
		w, ok := want[col.Name]
		if !ok {
			t.Errorf("unexpected column %q", col.Name)
			continue
		}
		if got := c.After[i]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", col.Name, got, w)
		}
		if wc, ok := wantCol[col.Name]; ok && (string(col.Type) != wc[0] || col.Semantic != wc[1]) {
			t.Errorf("%s column = %s/%s, want %s/%s", col.Name, col.Type, col.Semantic, wc[0], wc[1])
		}
	}
	byName := map[string]schemas.Column{}
	for _, col := range c.Columns {
		byName[col.Name] = col
	}
	if got := byName["num"].Params["scale"]; got != "2" {
		t.Errorf("num scale = %q, want 2", got)
	}
	if got := byName["m"].Params["allowed"]; got != "sad,ok,happy" {
		t.Errorf("enum allowed = %q, want sad,ok,happy", got)
	}
	if got := byName["b10"].Params["length"]; got != "10" {
		t.Errorf("bit length = %q, want 10", got)
	}
	if !reflect.DeepEqual(c.Key, []string{"id"}) || byName["id"].Optional {
		t.Errorf("key = %v (id optional %v), want [id] required", c.Key, byName["id"].Optional)
	}
	if c.Table != (schemas.TableID{Database: c.Source.DB, Schema: "public", Table: "alltypes"}) || c.Source.DB == "" {
		t.Errorf("table = %+v", c.Table)
	}
}
