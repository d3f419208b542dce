package schemas

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
	"time"
)

// pgPersonsChange mirrors testdata/debezium/pg271_create_c.json.
func pgPersonsChange() *Change {
	return &Change{
		Table: TableID{Database: "testdb", Schema: "public", Table: "persons"},
		Op:    OpCreate,
		Columns: []Column{
			{Name: "id", Type: Int32},
			{Name: "name", Type: String, Optional: true},
			{Name: "age", Type: Int32, Optional: true},
		},
		Key:   []string{"id"},
		After: []any{int32(2), "Paul", int32(25)},
		Source: Source{Version: "2.7.1.Final", Connector: ConnectorPostgres, Name: "pg", TsMs: 1764100127886,
			DB: "testdb", Schema: "public", Table: "persons", TxID: 491, LSN: 23043920},
		TsMs: 1764100128174,
	}
}

// stripDifferences removes what we do not write on purpose (ts_us/ts_ns
// everywhere) and normalises the snapshot enum's allowed list, which differs
// between Debezium versions.
func stripDifferences(v any) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "ts_us")
		delete(x, "ts_ns")
		if x["field"] == "ts_us" || x["field"] == "ts_ns" {
			return nil
		}
		if x["field"] == "snapshot" && x["name"] == "io.debezium.data.Enum" {
			x["parameters"] = "normalised"
		}
		for k, e := range x {
			x[k] = stripDifferences(e)
		}
	case []any:
		out := x[:0]
		for _, e := range x {
			if e = stripDifferences(e); e != nil {
				out = append(out, e)
			}
		}
		return out
	}
	return v
}

func TestEncodeValueGoldenDebezium(t *testing.T) {
	for _, tt := range []struct {
		sample string
		change *Change
	}{
		{"pg271_create_c.json", pgPersonsChange()},
		{"mysql307_create_c.json", &Change{
			Table: TableID{Database: "test", Table: "t_test"}, Op: OpCreate,
			Columns: []Column{{Name: "id", Type: Int32}}, Key: []string{"id"},
			After: []any{int32(14)},
			Source: Source{Version: "3.0.7.Final", Connector: ConnectorMySQL, Name: "test", TsMs: 1741000296000,
				DB: "test", Table: "t_test", ServerID: 1, File: "binlog.000004", Pos: 3134},
			TsMs: 1741000296823,
		}},
	} {
		t.Run(tt.sample, func(t *testing.T) {
			got, err := EncodeValue(tt.change, true)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("our output is not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(readSample(t, tt.sample), &w); err != nil {
				t.Fatal(err)
			}
			// MySQL's thread is 12 in the sample; we write null (Source has no thread).
			if p, ok := w.(map[string]any)["payload"].(map[string]any); ok {
				if s, ok := p["source"].(map[string]any); ok && s["connector"] == "mysql" {
					s["thread"] = nil
				}
			}
			g, w = stripDifferences(g), stripDifferences(w)
			if !reflect.DeepEqual(g, w) {
				gj, _ := json.Marshal(g)
				wj, _ := json.Marshal(w)
				t.Errorf("differs from Debezium sample\n got %s\nwant %s", gj, wj)
			}
			// Payload key order as Debezium writes it.
			e, _ := DecodeEnvelope(got)
			if e == nil {
				t.Fatal("our output does not decode")
			}
			wantOrder := []string{"before", "after", "source", "transaction", "op", "ts_ms"}
			if order := topKeys(t, payloadOf(t, got)); !reflect.DeepEqual(order, wantOrder) {
				t.Errorf("payload key order %v, want %v", order, wantOrder)
			}
		})
	}
}

func TestEncodeKeyGolden(t *testing.T) {
	for _, tt := range []struct {
		sample string
		change *Change
	}{
		{"pg271_create_c.key.json", pgPersonsChange()},
	} {
		got, err := EncodeKey(tt.change, true)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSpace(readSample(t, tt.sample))
		if !bytes.Equal(got, want) {
			t.Errorf("key\n got %s\nwant %s", got, want)
		}
		bare, _ := EncodeKey(tt.change, false)
		if string(bare) != `{"id":2}` {
			t.Errorf("bare key %s", bare)
		}
	}
	c := pgPersonsChange()
	c.Key = nil
	if k, err := EncodeKey(c, true); k != nil || err != nil {
		t.Errorf("keyless table: key %s err %v, want nil nil", k, err)
	}
}

func payloadOf(t *testing.T, value []byte) []byte {
	env, _, err := locateEnvelope(value)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func topKeys(t *testing.T, obj []byte) []string {
	var keys []string
	it := newObjectIter(obj, 0)
	for {
		k, vs, ok := it.next()
		if !ok {
			break
		}
		keys = append(keys, k)
		it.value(vs)
	}
	if it.err != nil {
		t.Fatal(it.err)
	}
	return keys
}

func TestEncodeDeterministic(t *testing.T) {
	c := allTypesChange()
	a, err := EncodeValue(c, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, err := EncodeValue(allTypesChange(), true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("encoding %d differs:\n%s\n%s", i, a, b)
		}
	}
	if !json.Valid(a) {
		t.Fatalf("not JSON: %s", a)
	}
}

func col(name string, typ ConnectType, sem string, params map[string]string) Column {
	return Column{Name: name, Type: typ, Semantic: sem, Params: params, Optional: true}
}

var allTypeColumns = []Column{
	{Name: "id", Type: Int64},
	col("i8", Int8, "", nil),
	col("i16", Int16, "", nil),
	col("i32", Int32, "", nil),
	col("f32", Float32, "", nil),
	col("f64", Float64, "", nil),
	col("b", Boolean, "", nil),
	col("s", String, "", nil),
	col("raw", Bytes, "", nil),
	col("dec", Bytes, SemDecimal, map[string]string{"scale": "2", "connect.decimal.precision": "10"}),
	col("vdec", Struct, SemVariableScale, nil),
	col("d", Int32, SemDate, nil),
	col("t", Int32, SemTime, nil),
	col("mt", Int64, SemMicroTime, nil),
	col("ts", Int64, SemTimestamp, nil),
	col("mts", Int64, SemMicroTimestamp, nil),
	col("nts", Int64, SemNanoTimestamp, nil),
	col("zts", String, SemZonedTimestamp, nil),
	col("yr", Int32, SemYear, nil),
	col("js", String, SemJSON, nil),
	col("uuid", String, SemUUID, nil),
	col("enum", String, SemEnum, map[string]string{"allowed": "a,b"}),
	col("bits", Bytes, SemBits, map[string]string{"length": "12"}),
	col("dur", Int64, SemInterval, nil),
	{Name: "arr", Type: Array, Optional: true, Elem: &Column{Type: Int32, Optional: true}},
	col("toast", String, "", nil),
	col("toastint", Int64, "", nil),
}

func allTypesChange() *Change {
	return &Change{
		Table:   TableID{Database: "db", Schema: "public", Table: "all_types"},
		Op:      OpUpdate,
		Columns: allTypeColumns,
		Key:     []string{"id"},
		After: []any{int64(-9007199254740993), int8(-128), int16(32767), int32(-2147483648), float32(1.5), 0.1, true,
			"é \"q\" <&> \n\u0001", []byte{0, 1, 255}, TwosComplementBytes(big.NewInt(-12345)),
			VariableScaleDecimal{Scale: 3, Value: TwosComplementBytes(big.NewInt(123456789))},
			int32(19765), int32(3723004), int64(3723004005), int64(1700000000123), int64(1700000000123456), int64(1700000000123456000),
			"2024-01-02T03:04:05.123456Z", int32(2024), `{"a":[1,2]}`, "4b8f0a1e-0000-4000-8000-000000000001", "b",
			[]byte{0xff, 0x0f}, int64(3600000000), []any{int32(1), nil, int32(3)}, Unavailable{}, Unavailable{}},
		Source: Source{Connector: ConnectorPostgres, Name: "srv", DB: "db", Schema: "public", Table: "all_types", TxID: 7, LSN: 200, CommitLSN: 100, TsMs: 1},
		TsMs:   2,
	}
}

func TestRoundTripAllTypes(t *testing.T) {
	c := allTypesChange()
	for _, withSchema := range []bool{true, false} {
		value, err := EncodeValue(c, withSchema)
		if err != nil {
			t.Fatal(err)
		}
		e, err := DecodeEnvelope(value)
		if err != nil {
			t.Fatalf("%v\n%s", err, value)
		}
		if e.Source != c.Source || e.Op != c.Op || e.TsMs != c.TsMs {
			t.Errorf("source/op/ts: got %+v %v %d", e.Source, e.Op, e.TsMs)
		}
		cols := allTypeColumns
		if withSchema {
			cols = e.AfterColumns
			if len(cols) != len(allTypeColumns) {
				t.Fatalf("schema has %d columns", len(cols))
			}
			for i := range cols {
				w := allTypeColumns[i]
				if cols[i].Name != w.Name || cols[i].Type != w.Type || cols[i].Semantic != w.Semantic || !reflect.DeepEqual(cols[i].Params, w.Params) {
					t.Errorf("column %d: got %+v want %+v", i, cols[i], w)
				}
			}
		}
		got := make([]any, len(cols))
		for i := range got {
			got[i] = Unavailable{} // a field the row lacks
		}
		for _, f := range e.After {
			for i := range cols {
				if cols[i].Name == f.Name {
					v, err := DecodeValue(cols[i], f.Raw)
					if err != nil {
						t.Fatal(err)
					}
					got[i] = v
				}
			}
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], c.After[i]) {
				t.Errorf("withSchema=%v column %s: got %#v want %#v", withSchema, cols[i].Name, got[i], c.After[i])
			}
		}
	}
}

func TestToDeltaValueAllTypes(t *testing.T) {
	value, err := EncodeValue(allTypesChange(), false)
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEnvelope(value)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]json.RawMessage{}
	for _, f := range e.After {
		raw[f.Name] = f.Raw
	}
	// Expected Delta values computed by hand from the Change above.
	want := map[string]any{
		"id": int64(-9007199254740993), "i8": int8(-128), "i16": int16(32767), "i32": int32(-2147483648),
		"f32": float32(1.5), "f64": 0.1, "b": true, "s": "é \"q\" <&> \n\u0001", "raw": []byte{0, 1, 255},
		"dec": big.NewInt(-12345), "vdec": "123456.789",
		"d": time.Date(2024, 2, 12, 0, 0, 0, 0, time.UTC), // 19765 days after 1970-01-01 (checked with Python datetime)
		"t": int64(3723004000), "mt": int64(3723004005),
		"ts":  time.Date(2023, 11, 14, 22, 13, 20, 123000000, time.UTC),
		"mts": time.Date(2023, 11, 14, 22, 13, 20, 123456000, time.UTC),
		"nts": time.Date(2023, 11, 14, 22, 13, 20, 123456000, time.UTC),
		"zts": time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
		"yr":  int32(2024), "js": `{"a":[1,2]}`, "uuid": "4b8f0a1e-0000-4000-8000-000000000001", "enum": "b",
		"bits": []byte{0xff, 0x0f}, "dur": int64(3600000000), "arr": []any{int32(1), nil, int32(3)},
	}
	for _, c := range allTypeColumns {
		r, ok := raw[c.Name]
		if c.Name == "toastint" {
			if ok {
				t.Errorf("unavailable int64 column was written: %s", r)
			}
			continue
		}
		got, err := ToDeltaValue(c, r)
		if c.Name == "toast" {
			if err != ErrUnavailable {
				t.Errorf("toast: err %v, want ErrUnavailable", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if !reflect.DeepEqual(got, want[c.Name]) {
			t.Errorf("%s: got %#v want %#v", c.Name, got, want[c.Name])
		}
	}
}

func TestTwosComplementBytes(t *testing.T) {
	// Values as Java's BigInteger.toByteArray writes them.
	tests := []struct {
		n    int64
		want []byte
	}{
		{0, []byte{0}}, {1, []byte{1}}, {127, []byte{0x7f}}, {128, []byte{0, 0x80}},
		{-1, []byte{0xff}}, {-128, []byte{0x80}}, {-129, []byte{0xff, 0x7f}}, {-12345, []byte{0xcf, 0xc7}},
	}
	for _, tt := range tests {
		got := TwosComplementBytes(big.NewInt(tt.n))
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%d: got %x want %x", tt.n, got, tt.want)
		}
		if back := twosComplement(got); back.Int64() != tt.n {
			t.Errorf("%d: read back %s", tt.n, back)
		}
	}
}
