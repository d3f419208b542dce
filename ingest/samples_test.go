package ingest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRealDebeziumSamples ingests the real Debezium envelopes collected in
// schemas/testdata/debezium (both the schema-wrapped and the bare form):
// every change lands as a raw row with its op and source table, none is a
// dead letter, and transaction BEGIN/END and heartbeat records are skipped.
func TestRealDebeziumSamples(t *testing.T) {
	files, err := filepath.Glob("../schemas/testdata/debezium/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	ctx := context.Background()
	brokers := newCluster(t, 1)
	wantOp := map[int64]string{}
	var recs []*kgo.Record
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasSuffix(name, ".key.json") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(name, "_tx_") && !strings.HasPrefix(name, "heartbeat") {
			// The op, when known, is in the file name:
			// <origin>_<what>_<op>[_bare].json.
			op := ""
			for _, part := range strings.Split(strings.TrimSuffix(name, ".json"), "_") {
				if len(part) == 1 && strings.Contains("cudrt", part) {
					op = part
				}
			}
			wantOp[int64(len(recs))] = op
		}
		recs = append(recs, rec("dbz.samples", 0, "", data))
	}
	produce(t, brokers, recs...)
	raw, dead := newTables()
	rep, err := Run(ctx, testConfig(brokers, `dbz\..*`), raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeadLetters != 0 {
		t.Errorf("dead letters = %d, want 0: %+v", rep.DeadLetters, readTable(t, dead, DeadLetterSchema()))
	}
	rows := readTable(t, raw, RawSchema())
	var got []int64
	for _, r := range rows {
		off := r["offset"].(int64)
		got = append(got, off)
		want, ok := wantOp[off]
		if !ok {
			t.Errorf("offset %d (a transaction or heartbeat record) was written", off)
			continue
		}
		if op, _ := r["op"].(string); want != "" && op != want {
			t.Errorf("offset %d: op %q, want %q", off, op, want)
		}
		if r["source_table"] == nil || r["ordering_key"] == nil || r["source_connector"] == nil {
			t.Errorf("offset %d: source_table %v ordering_key %v connector %v", off, r["source_table"], r["ordering_key"], r["source_connector"])
		}
	}
	if len(got) != len(wantOp) {
		t.Errorf("rows = %d, want %d changes", len(got), len(wantOp))
	}
	slices.Sort(got)
}
