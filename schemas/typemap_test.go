package schemas

import (
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestDeltaTypeOf(t *testing.T) {
	dec := func(s, p string) map[string]string {
		m := map[string]string{"scale": s}
		if p != "" {
			m["connect.decimal.precision"] = p
		}
		return m
	}
	tests := []struct {
		col  Column
		want string
	}{
		{Column{Type: Int8}, "byte"},
		{Column{Type: Int16}, "short"},
		{Column{Type: Int32}, "integer"},
		{Column{Type: Int64}, "long"},
		{Column{Type: Float32}, "float"},
		{Column{Type: Float64}, "double"},
		{Column{Type: Boolean}, "boolean"},
		{Column{Type: String}, "string"},
		{Column{Type: Bytes}, "binary"},
		{Column{Type: Bytes, Semantic: SemDecimal, Params: dec("2", "10")}, "decimal(10,2)"},
		{Column{Type: Bytes, Semantic: SemDecimal, Params: dec("4", "")}, "decimal(38,4)"},
		{Column{Type: Bytes, Semantic: SemDecimal, Params: dec("2", "50")}, "string"},
		{Column{Type: Bytes, Semantic: SemDecimal, Params: dec("5", "3")}, "string"},
		{Column{Type: Struct, Semantic: SemVariableScale}, "string"},
		{Column{Type: Int32, Semantic: SemDate}, "date"},
		{Column{Type: Int32, Semantic: SemConnectDate}, "date"},
		{Column{Type: Int32, Semantic: SemTime}, "long"},
		{Column{Type: Int64, Semantic: SemMicroTime}, "long"},
		{Column{Type: Int64, Semantic: SemNanoTime}, "long"},
		{Column{Type: Int32, Semantic: SemConnectTime}, "long"},
		{Column{Type: Int64, Semantic: SemTimestamp}, "timestamp_ntz"},
		{Column{Type: Int64, Semantic: SemMicroTimestamp}, "timestamp_ntz"},
		{Column{Type: Int64, Semantic: SemNanoTimestamp}, "timestamp_ntz"},
		{Column{Type: Int64, Semantic: SemConnectTs}, "timestamp_ntz"},
		{Column{Type: String, Semantic: SemZonedTimestamp}, "timestamp"},
		{Column{Type: String, Semantic: SemZonedTime}, "string"},
		{Column{Type: Int32, Semantic: SemYear}, "integer"},
		{Column{Type: String, Semantic: SemJSON}, "string"},
		{Column{Type: String, Semantic: SemUUID}, "string"},
		{Column{Type: String, Semantic: SemEnum}, "string"},
		{Column{Type: String, Semantic: SemEnumSet}, "string"},
		{Column{Type: String, Semantic: SemXML}, "string"},
		{Column{Type: Bytes, Semantic: SemBits}, "binary"},
		{Column{Type: Int64, Semantic: SemInterval}, "long"},
		{Column{Type: Map}, "string"},
		{Column{Type: Array, Elem: &Column{Type: Int32, Semantic: SemDate}}, "array<date>"},
	}
	for _, tt := range tests {
		got, err := DeltaTypeOf(tt.col)
		if err != nil {
			t.Errorf("%+v: %v", tt.col, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("%+v: got %s want %s", tt.col, got, tt.want)
		}
	}
	if _, err := DeltaTypeOf(Column{Name: "x", Type: "weird"}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("unknown type: err %v, want one naming the column", err)
	}
	if nt, _ := DeltaTypeOf(Column{Type: Array, Elem: &Column{Type: Int64, Semantic: SemMicroTimestamp}}); !nt.NeedsTimestampNtz() {
		t.Error("array<timestamp_ntz> should need timestampNtz")
	}
}

func TestToDeltaValueExactAndErrors(t *testing.T) {
	decCol := Column{Name: "price", Type: Bytes, Semantic: SemDecimal, Params: map[string]string{"scale": "2", "connect.decimal.precision": "4"}}
	// "AN4=" is 0x00de = 222 (hand-decoded), i.e. 2.22.
	v, err := ToDeltaValue(decCol, json.RawMessage(`"AN4="`))
	if err != nil || v.(*big.Int).Int64() != 222 {
		t.Errorf("decimal: %v %v", v, err)
	}
	// 0x0186a0 = 100000 does not fit decimal(4,2).
	if _, err := ToDeltaValue(decCol, json.RawMessage(`"AYag"`)); err == nil || !strings.Contains(err.Error(), `"price"`) {
		t.Errorf("overflow: err %v", err)
	}
	wide := Column{Name: "n", Type: Bytes, Semantic: SemDecimal, Params: map[string]string{"scale": "2", "connect.decimal.precision": "50"}}
	if v, err := ToDeltaValue(wide, json.RawMessage(`"/yI="`)); err != nil || v != "-2.22" { // 0xff22 = -222
		t.Errorf("wide decimal: %v %v", v, err)
	}
	big64 := Column{Name: "b", Type: Int64}
	if v, _ := ToDeltaValue(big64, json.RawMessage(`9223372036854775807`)); v != int64(9223372036854775807) {
		t.Errorf("int64 max: %v", v)
	}
	for _, tt := range []struct {
		col Column
		raw string
	}{
		{Column{Name: "i", Type: Int16}, `40000`},
		{Column{Name: "i", Type: Int32}, `1.5`},
		{Column{Name: "s", Type: String}, `12`},
		{Column{Name: "b", Type: Boolean}, `"true"`},
		{Column{Name: "n", Type: Int64, Semantic: SemNanoTimestamp}, `1700000000123456789`},
		{Column{Name: "z", Type: String, Semantic: SemZonedTimestamp}, `"yesterday"`},
		{Column{Name: "x", Type: Bytes}, `"%%%"`},
	} {
		_, err := ToDeltaValue(tt.col, json.RawMessage(tt.raw))
		if err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `"`+tt.col.Name+`"`) {
			t.Errorf("%s %s: err %v, want an error naming the column", tt.col.Type, tt.raw, err)
		}
	}
	if v, err := ToDeltaValue(Column{Type: String}, json.RawMessage(`null`)); v != nil || err != nil {
		t.Errorf("null: %v %v", v, err)
	}
	if _, err := ToDeltaValue(Column{Type: Bytes}, json.RawMessage(`"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="`)); err != ErrUnavailable {
		t.Errorf("bytes placeholder: %v", err)
	}
}

func TestDecimalText(t *testing.T) {
	for _, tt := range []struct {
		n     int64
		scale int32
		want  string
	}{
		{123456789, 3, "123456.789"}, {-5, 2, "-0.05"}, {0, 2, "0.00"}, {12, -2, "1200"}, {7, 0, "7"},
	} {
		if got := decimalText(big.NewInt(tt.n), tt.scale); got != tt.want {
			t.Errorf("decimalText(%d,%d) = %s want %s", tt.n, tt.scale, got, tt.want)
		}
	}
}

func TestInferColumn(t *testing.T) {
	tests := []struct {
		raw  string
		typ  ConnectType
		sema string
	}{
		{`12`, Int64, ""}, {`-3`, Int64, ""}, {`1.5`, Float64, ""}, {`1e3`, Float64, ""},
		{`99999999999999999999`, Float64, ""}, {`"x"`, String, ""}, {`true`, Boolean, ""},
		{`null`, String, ""}, {`{"a":1}`, String, SemJSON}, {`[1]`, String, SemJSON},
	}
	for _, tt := range tests {
		c := InferColumn("c", json.RawMessage(tt.raw))
		if c.Type != tt.typ || c.Semantic != tt.sema || !c.Optional || c.Name != "c" {
			t.Errorf("InferColumn(%s) = %+v", tt.raw, c)
		}
	}
}

func TestEvolve(t *testing.T) {
	ty := func(n string) DeltaType { return DeltaType{Name: n} }
	dec := func(p, s int) DeltaType { return DeltaType{Name: DeltaDecimal, Precision: p, Scale: s} }
	old := []DeltaColumn{{"id", ty("integer"), false}, {"name", ty("string"), true}, {"price", dec(10, 2), true}}
	tests := []struct {
		name    string
		new     []DeltaColumn
		added   []string
		widened []string
		relaxed []string
		missing []string
		bad     string // column named by IncompatibleChangeError
	}{
		{name: "same", new: old},
		{name: "add at end", new: append(append([]DeltaColumn{}, old...), DeltaColumn{"extra", ty("long"), false}), added: []string{"extra"}},
		{name: "int to long", new: []DeltaColumn{{"id", ty("long"), false}, old[1], old[2]}, widened: []string{"id:integer->long"}},
		{name: "int to double", new: []DeltaColumn{{"id", ty("double"), false}, old[1], old[2]}, widened: []string{"id:integer->double"}},
		{name: "decimal widen", new: []DeltaColumn{old[0], old[1], {"price", dec(12, 4), true}}, widened: []string{"price:decimal(10,2)->decimal(12,4)"}},
		{name: "decimal scale only", new: []DeltaColumn{old[0], old[1], {"price", dec(10, 4), true}}, bad: "price"},
		{name: "narrower kept", new: []DeltaColumn{{"id", ty("short"), false}, old[1], old[2]}},
		{name: "string to long", new: []DeltaColumn{old[0], {"name", ty("long"), true}, old[2]}, bad: "name"},
		{name: "long to int on int table is widening; double to int is not", new: []DeltaColumn{old[0], old[1], {"price", ty("double"), true}}, bad: "price"},
		{name: "relax", new: []DeltaColumn{{"id", ty("integer"), true}, old[1], old[2]}, relaxed: []string{"id"}},
		{name: "drop kept", new: old[:2], missing: []string{"price"}},
		{name: "case insensitive", new: []DeltaColumn{{"ID", ty("integer"), false}, old[1], old[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Evolve(old, tt.new)
			if tt.bad != "" {
				var ice *IncompatibleChangeError
				if !errors.As(err, &ice) || ice.Column != tt.bad {
					t.Fatalf("err %v, want IncompatibleChangeError for %q", err, tt.bad)
				}
				if !strings.Contains(err.Error(), ice.OldType.String()) || !strings.Contains(err.Error(), ice.NewType.String()) {
					t.Errorf("error %q does not name both types", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var added, widened []string
			for _, a := range ev.Added {
				added = append(added, a.Name)
				if !a.Nullable {
					t.Errorf("added %s not nullable", a.Name)
				}
			}
			for _, w := range ev.Widened {
				widened = append(widened, w.Column+":"+w.From.String()+"->"+w.To.String())
			}
			if !reflect.DeepEqual(added, tt.added) || !reflect.DeepEqual(widened, tt.widened) ||
				!reflect.DeepEqual(ev.Relaxed, tt.relaxed) || !reflect.DeepEqual(ev.Missing, tt.missing) {
				t.Errorf("got added %v widened %v relaxed %v missing %v", added, widened, ev.Relaxed, ev.Missing)
			}
			if len(ev.Columns) != len(old)+len(tt.added) {
				t.Errorf("result has %d columns", len(ev.Columns))
			}
		})
	}
}

func TestCanWiden(t *testing.T) {
	ty := func(n string) DeltaType { return DeltaType{Name: n} }
	dec := func(p, s int) DeltaType { return DeltaType{Name: DeltaDecimal, Precision: p, Scale: s} }
	arr := func(e DeltaType) DeltaType { return DeltaType{Name: DeltaArray, Element: &e} }
	tests := []struct {
		from, to DeltaType
		want     bool
	}{
		{ty("byte"), ty("short"), true}, {ty("short"), ty("long"), true}, {ty("long"), ty("integer"), false},
		{ty("float"), ty("double"), true}, {ty("long"), ty("double"), false}, {ty("short"), ty("double"), true},
		{ty("date"), ty("timestamp_ntz"), true}, {ty("date"), ty("timestamp"), false},
		{dec(10, 2), dec(12, 3), true}, {dec(10, 2), dec(10, 3), false}, {dec(10, 2), dec(9, 2), false},
		{ty("integer"), dec(10, 0), true}, {ty("integer"), dec(11, 2), false}, {ty("long"), dec(20, 0), true},
		{ty("long"), dec(21, 2), false}, {ty("string"), ty("binary"), false}, {ty("long"), ty("long"), false},
		{arr(ty("integer")), arr(ty("long")), true}, {arr(ty("long")), arr(ty("integer")), false},
	}
	for _, tt := range tests {
		if got := CanWiden(tt.from, tt.to); got != tt.want {
			t.Errorf("CanWiden(%s, %s) = %v", tt.from, tt.to, got)
		}
	}
}

func TestRawContract(t *testing.T) {
	cols := RawColumns()
	want := "topic:string:false ingest_ts:timestamp:false partition:integer:false offset:long:false kafka_ts:timestamp:true key:binary:true value:binary:true op:string:true source_connector:string:true source_db:string:true source_schema:string:true source_table:string:true ordering_key:string:true source_ts:timestamp:true tx_id:string:true snapshot:boolean:true batch_id:string:true headers:string:true"
	var got []string
	for _, c := range cols {
		n := "false"
		if c.Nullable {
			n = "true"
		}
		got = append(got, c.Name+":"+c.DeltaType+":"+n)
	}
	if strings.Join(got, " ") != want {
		t.Errorf("raw columns\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if got := IngestAppID("pg.public.t", 7); got != "sluice-ingest|pg.public.t|7" {
		t.Errorf("IngestAppID = %s", got)
	}
	var p struct {
		MinReaderVersion int      `json:"minReaderVersion"`
		MinWriterVersion int      `json:"minWriterVersion"`
		WriterFeatures   []string `json:"writerFeatures"`
	}
	if err := json.Unmarshal([]byte(RawProtocol), &p); err != nil || p.MinReaderVersion != RawMinReaderVersion || p.MinWriterVersion != RawMinWriterVersion || !reflect.DeepEqual(p.WriterFeatures, RawWriterFeatures()) {
		t.Errorf("protocol %+v %v", p, err)
	}
	var cl struct {
		ClusteringColumns [][]string `json:"clusteringColumns"`
		DomainName        string     `json:"domainName"`
	}
	if err := json.Unmarshal([]byte(RawClusteringConfiguration), &cl); err != nil || cl.DomainName != ClusteringDomain ||
		!reflect.DeepEqual(cl.ClusteringColumns, [][]string{{"topic"}, {"ingest_ts"}}) {
		t.Errorf("clustering %+v %v", cl, err)
	}
}
