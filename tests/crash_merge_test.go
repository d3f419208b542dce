package tests

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestCrashMergeKill9 builds a raw table by ingesting generated PostgreSQL
// change events (inserts, updates, deletes with tombstones, re-inserts of
// deleted keys) for two tables, then SIGKILLs the merge process at random
// moments at least 30 times, ingesting more events between some trials.
// A final clean merge must leave every SCD1 table equal to the source state
// computed independently from the generated events (last change per key in
// commit order, deletes remove), read with our reader and with DuckDB.
func TestCrashMergeKill9(t *testing.T) {
	brokers := testenv.Kafka(t)
	bin := crashRunner(t)
	seed, rng := crashSeed(t)
	t.Logf("seed %d", seed)

	prefix := testenv.UniqueName("crashm")
	const partitions = 2
	w := newCrashWorkload(rng, prefix, "shop", 2, partitions, 40)
	crashCreateTopics(t, brokers, partitions, w.topics()...)
	dir := t.TempDir()
	regex := `\Q` + prefix + `\E\..*`
	ingestAll := func(n int) {
		crashProduce(t, brokers, w.records(t, n))
		c := startCrashChild(t, bin, nil, "ingest", "-kafka", strings.Join(brokers, ","), "-dir", dir, "-regex", regex, "-group", prefix)
		if err := c.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("ingest: %v\n%s", err, c.tail())
		}
	}
	ingestAll(800)

	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	// versions returns each SCD1 table's version (-1: not created yet), to
	// tell kills before any commit from kills between the tables' commits.
	versions := func() []int64 {
		var out []int64
		for _, id := range w.tables {
			snap, err := lakelog.Open(blob.Sub(store, merge.DefaultLocation("scd1", id)), lakelog.Options{}).Snapshot(t.Context())
			if err != nil {
				out = append(out, -1)
				continue
			}
			out = append(out, snap.Version())
		}
		return out
	}

	// checkTables compares every SCD1 table with the expected source state
	// (all produced events are ingested whenever it is called).
	checkTables := func(what string, withDuckDB bool) {
		t.Helper()
		for _, id := range w.tables {
			loc := merge.DefaultLocation("scd1", id)
			want := map[string]string{}
			for k, r := range w.state[id.String()] {
				want[fmt.Sprint(k)] = r.String()
			}

			tbl := lakelog.Open(blob.Sub(store, loc), lakelog.Options{})
			snap, rows := crashReadRows(t, tbl, nil)
			got := map[string]string{}
			for _, r := range rows {
				k := fmt.Sprint(r["id"])
				if _, dup := got[k]; dup {
					t.Errorf("%s: key %s appears twice", id, k)
				}
				got[k] = crashRowString(r["name"], r["amount"])
			}
			crashCompareRows(t, what+": "+id.String()+" (lakelog reader)", got, want)

			if !withDuckDB {
				continue
			}
			files := crashDuckDBLiveFiles(t, filepath.Join(dir, loc))
			duck := map[string]string{}
			if len(files) > 0 {
				for _, r := range testenv.DuckDB(t, fmt.Sprintf(`SELECT id, name, amount FROM read_parquet([%s])`, strings.Join(files, ","))) {
					k := fmt.Sprint(r["id"])
					if _, dup := duck[k]; dup {
						t.Errorf("%s: DuckDB sees key %s twice", id, k)
					}
					duck[k] = crashRowString(r["name"], r["amount"])
				}
			}
			crashCompareRows(t, what+": "+id.String()+" (DuckDB)", duck, want)
			t.Logf("%s: %d rows at version %d", id, len(got), snap.Version())
		}
	}

	wantKills, maxTrials := soakCount(30, 200), soakCount(90, 600)
	var trials, kills, finished, noneCommitted, someCommitted, allCommitted int
	began := time.Now()
	for trial := 0; kills < wantKills && trial < maxTrials; trial++ {
		trials++
		// Merges are quick: new raw data in most trials and slowed writes
		// (several files per table with few rows per file) keep a merge
		// running long enough to be killed in its reads, writes and commits.
		if trial > 0 && rng.IntN(10) < 7 {
			ingestAll(100 + rng.IntN(300))
		}
		rows := []string{"25", "100", "0"}[rng.IntN(3)]
		putDelay := []string{"10ms", "40ms", "100ms"}[rng.IntN(3)]
		delay := time.Duration(20+rng.IntN(900)) * time.Millisecond
		before := versions()
		c := startCrashChild(t, bin, []string{"SLUICE_CRASHRUNNER_PUT_DELAY=" + putDelay}, "merge", "-dir", dir, "-target-file-rows", rows)
		time.Sleep(delay)
		if c.kill() {
			kills++
			advanced := 0
			for i, v := range versions() {
				if v > before[i] {
					advanced++
				}
			}
			switch advanced {
			case 0:
				noneCommitted++
			case len(before):
				allCommitted++
			default:
				someCommitted++
			}
		} else {
			finished++
			if c.err != nil {
				t.Fatalf("trial %d: merge failed by itself (rows %s, put delay %s): %v\n%s", trial, rows, putDelay, c.err, c.tail())
			}
			// A merge that completed after earlier kills must be exact.
			checkTables(fmt.Sprintf("trial %d", trial), false)
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	t.Logf("%d trials in %v: %d killed (%d before any table commit, %d between the tables' commits, %d after all), %d finished before the kill",
		trials, time.Since(began).Round(time.Millisecond), kills, noneCommitted, someCommitted, allCommitted, finished)
	if kills < wantKills {
		t.Errorf("only %d of %d trials were killed mid-run, want %d", kills, trials, wantKills)
	}

	c := startCrashChild(t, bin, nil, "merge", "-dir", dir)
	if err := c.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("final merge: %v\n%s", err, c.tail())
	}

	checkTables("final", true)
}

// crashRowString renders name and amount as crashRow.String does; amount
// comes as int64 from our reader and json.Number from DuckDB.
func crashRowString(name, amount any) string {
	if amount == nil {
		return fmt.Sprintf("%v|NULL", name)
	}
	return fmt.Sprintf("%v|%v", name, amount)
}

func crashCompareRows(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("key %s missing (want %s)", k, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("key %s: got %s, want %s", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("key %s should not exist (deleted or never inserted), has %s", k, g))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s: %d rows, want %d; %d differences, first: %v", what, len(got), len(want), len(diffs), diffs[:min(10, len(diffs))])
	}
}
