package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestKcatRecordsReadByDuckDB produces Debezium events with kcat (librdkafka,
// a client we did not write) to the out-of-process broker, ingests them into
// a raw table in a local directory, and reads that table back with DuckDB:
// same row count, and per-file Parquet stats on topic that let a reader of
// one topic skip the other topics' files.
func TestKcatRecordsReadByDuckDB(t *testing.T) {
	brokers := testenv.Kafka(t)
	kcat := testenv.Kcat(t)
	prefix := testenv.UniqueName("kcat")
	topics := []string{prefix + ".public.a", prefix + ".public.b"}
	const perTopic = 25
	for ti, topic := range topics {
		var in bytes.Buffer
		for i := 0; i < perTopic; i++ {
			fmt.Fprintf(&in, "{\"id\":%d}|%s\n", i, pgEvent(fmt.Sprintf("t%d", ti), i, uint64(100+i), uint64(200+i)))
		}
		cmd := exec.Command(kcat, "-P", "-b", strings.Join(brokers, ","), "-t", topic, "-K", "|", "-p", "0")
		cmd.Stdin = &in
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v\n%s", err, out)
		}
	}

	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw := lakelog.Open(store, lakelog.Options{})
	_, dead := newTables()
	cfg := testConfig(brokers, prefix+`\..*`)
	cfg.TargetFileBytes = 2 << 10 // small: one file per topic
	rep, err := Run(context.Background(), cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 2*perTopic {
		t.Fatalf("records = %d, want %d", rep.Records, 2*perTopic)
	}

	// Replay the log with DuckDB: live files = added and not removed.
	logGlob := filepath.Join(dir, "_delta_log", "*.json")
	files := testenv.DuckDB(t, fmt.Sprintf(`
		with a as (select "add".path as p from read_ndjson('%[1]s', columns={'add':'STRUCT(path VARCHAR)','remove':'STRUCT(path VARCHAR)'}) where "add" is not null),
		     r as (select "remove".path as p from read_ndjson('%[1]s', columns={'add':'STRUCT(path VARCHAR)','remove':'STRUCT(path VARCHAR)'}) where "remove" is not null)
		select p from a where p not in (select p from r) order by p`, logGlob))
	if len(files) == 0 {
		t.Fatal("DuckDB found no live files")
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, "'"+filepath.Join(dir, f["p"].(string))+"'")
	}
	list := "[" + strings.Join(paths, ",") + "]"
	got := testenv.DuckDB(t, fmt.Sprintf(`select count(*) as n, count(distinct (topic, "partition", "offset")) as d, sum(case when op = 'c' then 1 else 0 end) as c from read_parquet(%s)`, list))
	if n := fmt.Sprint(got[0]["n"]); n != fmt.Sprint(2*perTopic) || fmt.Sprint(got[0]["d"]) != n || fmt.Sprint(got[0]["c"]) != n {
		t.Errorf("DuckDB: %v, want %d distinct rows with op c", got[0], 2*perTopic)
	}
	// Each file's topic stats cover exactly one topic here.
	for _, p := range paths {
		st := testenv.DuckDB(t, fmt.Sprintf(`select stats_min_value as lo, stats_max_value as hi from parquet_metadata(%s) where path_in_schema = 'topic'`, p))
		if len(st) == 0 {
			t.Fatalf("%s: no topic stats", p)
		}
		for _, s := range st {
			if s["lo"] != s["hi"] || !strings.HasPrefix(fmt.Sprint(s["lo"]), prefix) {
				t.Errorf("%s: topic min %v max %v, want one topic", p, s["lo"], s["hi"])
			}
		}
	}
	// And the Delta stats of the adds agree.
	snap, err := raw.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range snap.Files() {
		var st struct {
			MinValues map[string]any `json:"minValues"`
			MaxValues map[string]any `json:"maxValues"`
		}
		if err := json.Unmarshal([]byte(a.Stats), &st); err != nil {
			t.Fatal(err)
		}
		if st.MinValues["topic"] != st.MaxValues["topic"] {
			t.Errorf("%s: delta stats topic %v..%v", a.Path, st.MinValues["topic"], st.MaxValues["topic"])
		}
	}
}
