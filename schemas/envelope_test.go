package schemas

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "debezium", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Expected values below were read from the sample files by eye.
func TestDecodeRealSamples(t *testing.T) {
	tests := []struct {
		file      string
		op        Op
		hasSchema bool
		src       Source
		tsMs      int64
		txID      string
		after     []string // field names of after, in order
		before    []string
		key       string
	}{
		{file: "pg271_snapshot_r.json", op: OpRead, hasSchema: true, tsMs: 1764099880139,
			src:   Source{Version: "2.7.1.Final", Connector: "postgresql", Name: "pg", TsMs: 1764099880079, Snapshot: "last", DB: "testdb", Schema: "public", Table: "persons", TxID: 490, LSN: 23043592, CommitLSN: 0},
			after: []string{"id", "name", "age"},
			// sequence[0] null: the change's own LSN stands in.
			key: "P00000000015F9E08" + "00000000015F9E08"},
		{file: "pg271_create_c.json", op: OpCreate, hasSchema: true, tsMs: 1764100128174,
			src:   Source{Version: "2.7.1.Final", Connector: "postgresql", Name: "pg", TsMs: 1764100127886, DB: "testdb", Schema: "public", Table: "persons", TxID: 491, LSN: 23043920},
			after: []string{"id", "name", "age"},
			key:   "P00000000015F9F50" + "00000000015F9F50"},
		{file: "pg271_update_u.json", op: OpUpdate, hasSchema: true, tsMs: 1764100128175,
			src:   Source{Version: "2.7.1.Final", Connector: "postgresql", Name: "pg", TsMs: 1764100127887, DB: "testdb", Schema: "public", Table: "persons", TxID: 492, LSN: 23044320, CommitLSN: 23044320},
			after: []string{"id", "name", "age"},
			key:   "P00000000015FA0E0" + "00000000015FA0E0"},
		{file: "pg273_create_c.json", op: OpCreate, hasSchema: true, tsMs: 1756284839610,
			src:   Source{Version: "2.7.3.Final", Connector: "postgresql", Name: "postgres_server.connect_test_db", TsMs: 1756284839282, DB: "connect_test_db", Schema: "public", Table: "source_table", TxID: 780, LSN: 26863936, CommitLSN: 26863880},
			after: []string{"id", "name"},
			key:   "P000000000199E908" + "000000000199E940"},
		{file: "mysql307_create_c.json", op: OpCreate, hasSchema: true, tsMs: 1741000296823,
			src:   Source{Version: "3.0.7.Final", Connector: "mysql", Name: "test", TsMs: 1741000296000, DB: "test", Table: "t_test", ServerID: 1, File: "binlog.000004", Pos: 3134},
			after: []string{"id"},
			key:   "M0000000004" + "00000000000000003134" + "0000000000"},
		{file: "mysql273_snapshot_r.json", op: OpRead, hasSchema: true, tsMs: 1739381500972,
			src:   Source{Version: "2.7.3.Final", Connector: "mysql", Name: "simply", TsMs: 1739381500000, Snapshot: "true", DB: "demosrc", Table: "products", File: "binlog.000002", Pos: 157},
			after: []string{"id", "name", "description", "category", "price", "image", "created_at", "updated_at"},
			key:   "M0000000002" + "00000000000000000157" + "0000000000"},
		{file: "pgdoc_update_u_bare.json", op: OpUpdate, tsMs: 1465584025523,
			src:    Source{Version: "{debezium-version}", Connector: "postgresql", Name: "PostgreSQL_server", TsMs: 1559033904863, DB: "postgres", Schema: "public", Table: "customers", TxID: 556, LSN: 24023128},
			before: []string{"id"}, after: []string{"id", "first_name", "last_name", "email"}},
		{file: "pgdoc_delete_d_bare.json", op: OpDelete, tsMs: 1465581902461,
			src:    Source{Version: "{debezium-version}", Connector: "postgresql", Name: "PostgreSQL_server", TsMs: 1559033904863, DB: "postgres", Schema: "public", Table: "customers", TxID: 556, LSN: 46523128},
			before: []string{"id"}},
		{file: "pgdoc_truncate_t_bare.json", op: OpTruncate, tsMs: 1559033904961,
			src: Source{Version: "{debezium-version}", Connector: "postgresql", Name: "PostgreSQL_server", TsMs: 1559033904863, DB: "postgres", Schema: "public", Table: "customers", TxID: 556, LSN: 46523128}},
		{file: "pgdoc_transaction_enriched_bare.json", op: OpCreate, tsMs: 1580390884335, txID: "571:53195832",
			src:   Source{Version: "{debezium-version}", Connector: "postgresql", Name: "PostgreSQL_server", TsMs: 1559033904863, DB: "postgres", Schema: "public", Table: "customers", TxID: 571, LSN: 24023128, CommitLSN: 24023119},
			after: []string{"pk", "aa"}},
		{file: "mysqldoc_update_u_bare.json", op: OpUpdate, tsMs: 1465581029523,
			src:    Source{Version: "{debezium-version}", Connector: "mysql", Name: "mysql-server-1", TsMs: 1465581029100, DB: "inventory", Table: "customers", ServerID: 223344, File: "mysql-bin.000003", Pos: 484},
			before: []string{"id", "first_name", "last_name", "email"}, after: []string{"id", "first_name", "last_name", "email"},
			key: "M0000000003" + "00000000000000000484" + "0000000000"},
		{file: "mysqldoc_delete_d_bare.json", op: OpDelete, tsMs: 1465581902461,
			src:    Source{Version: "{debezium-version}", Connector: "mysql", Name: "mysql-server-1", TsMs: 1465581902300, DB: "inventory", Table: "customers", ServerID: 223344, File: "mysql-bin.000003", Pos: 805},
			before: []string{"id", "first_name", "last_name", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			value := readSample(t, tt.file)
			e, err := DecodeEnvelope(value)
			if err != nil {
				t.Fatal(err)
			}
			if e.Op != tt.op || e.HasSchema != tt.hasSchema || e.TsMs != tt.tsMs {
				t.Errorf("op/hasSchema/ts_ms = %v/%v/%d, want %v/%v/%d", e.Op, e.HasSchema, e.TsMs, tt.op, tt.hasSchema, tt.tsMs)
			}
			if e.Source != tt.src {
				t.Errorf("source\n got %+v\nwant %+v", e.Source, tt.src)
			}
			if got := fieldNames(e.After); strings.Join(got, ",") != strings.Join(tt.after, ",") {
				t.Errorf("after fields %v, want %v", got, tt.after)
			}
			if got := fieldNames(e.Before); strings.Join(got, ",") != strings.Join(tt.before, ",") {
				t.Errorf("before fields %v, want %v", got, tt.before)
			}
			gotTx := ""
			if e.Transaction != nil {
				gotTx = e.Transaction.ID
			}
			if gotTx != tt.txID {
				t.Errorf("transaction id %q, want %q", gotTx, tt.txID)
			}
			if tt.hasSchema && len(tt.after) > 0 {
				if got := columnNames(e.AfterColumns); strings.Join(got, ",") != strings.Join(tt.after, ",") {
					t.Errorf("after schema %v, want %v", got, tt.after)
				}
			}
			h, err := ParseHeader(value)
			if err != nil {
				t.Fatal(err)
			}
			if h.Kind != KindChange || h.Op != tt.op || h.Source != tt.src || h.TsMs != tt.tsMs || h.TransactionID != tt.txID {
				t.Errorf("header %+v disagrees", h)
			}
			if tt.key != "" && h.OrderingKey != tt.key {
				t.Errorf("ordering key %q, want %q", h.OrderingKey, tt.key)
			}
		})
	}
}

func TestDecodeSampleColumns(t *testing.T) {
	e, err := DecodeEnvelope(readSample(t, "mysql273_snapshot_r.json"))
	if err != nil {
		t.Fatal(err)
	}
	cols := e.Columns()
	if cols[0].Type != Int64 || cols[0].Optional {
		t.Errorf("id column %+v, want int64 not optional", cols[0])
	}
	if cols[4].Type != Float32 || cols[6].Semantic != SemZonedTimestamp {
		t.Errorf("price/created_at columns %+v %+v", cols[4], cols[6])
	}
	v, err := ToDeltaValue(cols[6], e.After[6].Raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(interface{ Unix() int64 }).Unix(); got != 1739354999+5 { // 2025-02-12T10:10:04Z
		t.Errorf("created_at unix %d", got)
	}
}

func TestNonChangeRecords(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		kind  Kind
		txID  string
	}{
		{"nil", nil, KindTombstone, ""},
		{"empty", []byte{}, KindTombstone, ""},
		{"null", []byte("null"), KindTombstone, ""},
		{"heartbeat", readSample(t, "heartbeat_schema.json"), KindHeartbeat, ""},
		{"bare heartbeat", []byte(`{"ts_ms":1788182208680}`), KindHeartbeat, ""},
		{"tx begin", readSample(t, "pgdoc_tx_begin.json"), KindTransaction, "571:53195829"},
		{"tx end", readSample(t, "pgdoc_tx_end.json"), KindTransaction, "571:53195832"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if h.Kind != tt.kind || h.TransactionID != tt.txID {
				t.Errorf("kind %v tx %q, want %v %q", h.Kind, h.TransactionID, tt.kind, tt.txID)
			}
			_, err = DecodeEnvelope(tt.value)
			switch tt.kind {
			case KindTombstone:
				if !errors.Is(err, ErrTombstone) {
					t.Errorf("DecodeEnvelope err %v, want ErrTombstone", err)
				}
			default:
				if !errors.Is(err, ErrNotChange) {
					t.Errorf("DecodeEnvelope err %v, want ErrNotChange", err)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		value, want string
	}{
		{`not json`, "value is not JSON"},
		{`{"op":"c"`, "value is not JSON"},
		{`{"op":"c"} trailing`, "value is not JSON"},
		{`{"before":null,"after":{}}`, "no envelope: missing op"},
		{`{"op":"x","source":{}}`, `unknown op "x"`},
		{`{"op":"c"}`, "no envelope: missing source"},
		{`{"op":"c","source":{"connector":"postgresql","sequence":"[1"}}`, "sequence"},
		{`{"op":"c","source":{"pos":"abc"}}`, `source: field "pos"`},
	}
	for _, tt := range tests {
		_, err := DecodeEnvelope([]byte(tt.value))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeEnvelope(%s) err = %v, want %q", tt.value, err, tt.want)
		}
	}
}

func TestOrderingKeysSortInCommitOrder(t *testing.T) {
	// Two interleaved PostgreSQL transactions: T1 starts first (LSN 100) but
	// commits second; T2 writes at 150 and commits first at end LSN 300.
	// The stream delivers T2 then T1; T1's events carry sequence[0] = 300.
	t2 := Source{Connector: ConnectorPostgres, CommitLSN: 200, LSN: 150}
	t1a := Source{Connector: ConnectorPostgres, CommitLSN: 300, LSN: 100}
	t1b := Source{Connector: ConnectorPostgres, CommitLSN: 300, LSN: 400}
	// MySQL: file rollover and row order.
	m1 := Source{Connector: ConnectorMySQL, File: "mysql-bin.000009", Pos: 999999, Row: 3}
	m2 := Source{Connector: ConnectorMySQL, File: "mysql-bin.000010", Pos: 4, Row: 0}
	m3 := Source{Connector: ConnectorMySQL, File: "mysql-bin.000010", Pos: 4, Row: 1}
	m4 := Source{Connector: ConnectorMariaDB, File: "mysql-bin.1000000", Pos: 4}
	for _, order := range [][]Source{{t2, t1a, t1b}, {m1, m2, m3, m4}} {
		var keys []string
		for _, s := range order {
			k, err := s.OrderingKey()
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		if !sort.StringsAreSorted(keys) {
			t.Errorf("keys not in commit order: %q", keys)
		}
	}
	if _, err := (Source{Connector: ConnectorMySQL, File: "nosuffix"}).OrderingKey(); err == nil {
		t.Error("want error for binlog file without suffix")
	}
}

func TestParsePostgresSequence(t *testing.T) {
	tests := []struct {
		in             string
		commit, lsn    uint64
		hasLSN, hasErr bool
	}{
		{`["24023119","24023128"]`, 24023119, 24023128, true, false},
		{`[null,"23043592"]`, 0, 23043592, true, false},
		{`[null,null]`, 0, 0, false, false},
		{` [ "1" , "2" ] `, 1, 2, true, false},
		{`["1"]`, 0, 0, false, true},
		{`["x","2"]`, 0, 0, false, true},
		{`{}`, 0, 0, false, true},
	}
	for _, tt := range tests {
		c, l, has, err := ParsePostgresSequence(tt.in)
		if (err != nil) != tt.hasErr || c != tt.commit || l != tt.lsn || has != tt.hasLSN {
			t.Errorf("ParsePostgresSequence(%s) = %d %d %v %v", tt.in, c, l, has, err)
		}
	}
	if got := PostgresSequence(24023119, 24023128); got != `["24023119","24023128"]` {
		t.Errorf("PostgresSequence = %s", got)
	}
	if got := PostgresSequence(0, 23043592); got != `[null,"23043592"]` {
		t.Errorf("PostgresSequence = %s", got)
	}
}

func fieldNames(fs []Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func columnNames(cs []Column) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func FuzzDecodeEnvelope(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		e, err := DecodeEnvelope(value)
		h, herr := ParseHeader(value)
		if err == nil {
			if herr != nil {
				t.Fatalf("ParseHeader failed where DecodeEnvelope succeeded: %v", herr)
			}
			if h.Op != e.Op || h.Source != e.Source || h.TsMs != e.TsMs {
				t.Fatalf("header %+v disagrees with envelope %+v", h, e)
			}
			for _, c := range e.Columns() {
				for _, f := range e.After {
					if f.Name == c.Name {
						_, _ = ToDeltaValue(c, f.Raw)
						_, _ = DecodeValue(c, f.Raw)
					}
				}
			}
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		h, err := ParseHeader(value)
		if err != nil || h.Kind != KindChange {
			return
		}
		e, derr := DecodeEnvelope(value)
		if derr == nil && (e.Op != h.Op || e.Source != h.Source) {
			t.Fatalf("DecodeEnvelope %+v disagrees with header %+v", e, h)
		}
	})
}

func addSeeds(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "debezium"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(readSample(f, e.Name()))
		}
	}
	f.Add([]byte(`{"op":"c","source":{"connector":"postgresql","sequence":"[\"1\",\"2\"]"},"after":{"a":"\u00e9\ud83d\ude00"}}`))
}
