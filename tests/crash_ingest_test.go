package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestCrashIngestKill9 SIGKILLs the ingest process at random moments of its
// runs (during fetch, Parquet writes and commits: small files, short
// microbatches and slowed writes stretch every stage), producing more
// records between some trials. After every kill the raw table must hold,
// per partition, exactly the offsets up to its txn version, each once; after
// a final clean run, every produced record exactly once, byte for byte, as
// read by our reader and by DuckDB from its own replay of the Delta log.
func TestCrashIngestKill9(t *testing.T) {
	brokers := testenv.Kafka(t)
	bin := crashRunner(t)
	seed, rng := crashSeed(t)
	t.Logf("seed %d", seed)

	prefix := testenv.UniqueName("crashi")
	const partitions = 3
	w := newCrashWorkload(rng, prefix, "shop", 3, partitions, 200)
	crashCreateTopics(t, brokers, partitions, w.topics()...)
	dir := t.TempDir()
	regex := regexp.QuoteMeta(prefix) + `\..*`

	// produced maps "topic/partition/offset" to the value bytes.
	produced := map[string][]byte{}
	produce := func(n int) {
		recs := w.records(t, n)
		crashProduce(t, brokers, recs)
		for _, r := range recs {
			produced[fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)] = r.Value
		}
	}
	produce(1500)

	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw := lakelog.Open(blob.Sub(store, "raw/cdc"), lakelog.Options{})
	schema := ingest.RawSchema()

	// Trials go on until 50 kills landed inside a run (a run that ends
	// before its kill is a trial too, but does not count).
	wantKills, maxTrials := soakCount(50, 300), soakCount(150, 900)
	var trials, kills, finished, withOrphans, withCommits int
	prevVersion := int64(-1)
	start := time.Now()
	for trial := 0; kills < wantKills && trial < maxTrials; trial++ {
		trials++
		// Keep a backlog, so that most kills land inside a run. A run
		// writes about one file per topic and fetch (fetches are large),
		// so writes are slowed to stretch a run to around a second:
		// kills then land in start-up and fetch, between file uploads
		// (orphans), before and after commits.
		if trial > 0 && rng.IntN(10) < 7 {
			produce(150 + rng.IntN(450))
		}
		targets := []string{"2048", "8192", "32768"}
		ages := []string{"0s", "150ms", "400ms"}
		delays := []string{"30ms", "80ms", "150ms"}
		args := []string{"ingest", "-kafka", strings.Join(brokers, ","), "-dir", dir, "-regex", regex,
			"-group", prefix, "-target-file-bytes", targets[rng.IntN(len(targets))], "-max-batch-age", ages[rng.IntN(len(ages))]}
		env := []string{"SLUICE_CRASHRUNNER_PUT_DELAY=" + delays[rng.IntN(len(delays))]}
		delay := time.Duration(20+rng.IntN(600)) * time.Millisecond
		before := crashDataFiles(t, dir)

		c := startCrashChild(t, bin, env, args...)
		time.Sleep(delay)
		killed := c.kill()
		if killed {
			kills++
		} else {
			finished++
			if c.err != nil {
				t.Fatalf("trial %d: ingest failed by itself: %v\n%s", trial, c.err, c.tail())
			}
		}

		// A kill before the first run created the raw table leaves no table:
		// nothing was committed, which is a valid state after a crash.
		if _, err := raw.Snapshot(context.Background()); errors.Is(err, lakelog.ErrNoTable) {
			if !killed {
				t.Fatalf("trial %d: a run that completed left no raw table", trial)
			}
			continue
		}
		// The invariant after any crash: per partition, exactly the offsets
		// [0, txn version], each once.
		snap, rows := crashReadRows(t, raw, schema)
		got := crashCheckRaw(t, fmt.Sprintf("trial %d", trial), snap, rows, produced)
		if c.err == nil && len(got) != len(produced) {
			t.Errorf("trial %d: a run that completed left %d of %d records in the raw table", trial, len(got), len(produced))
		}
		if v := snap.Version(); v > prevVersion {
			withCommits++
			prevVersion = v
		}
		if orphans := len(crashDataFiles(t, dir)) - len(before) - crashNewFiles(snap, before); orphans > 0 {
			withOrphans++
		}
		if t.Failed() {
			t.Fatalf("trial %d (delay %v, %v %v) broke the raw table; stderr:\n%s", trial, delay, args, env, c.tail())
		}
	}
	t.Logf("%d trials in %v: %d killed, %d finished before the kill; %d advanced the table, %d left orphan files (killed between write and commit)",
		trials, time.Since(start).Round(time.Millisecond), kills, finished, withCommits, withOrphans)
	if kills < wantKills {
		t.Errorf("only %d of %d trials were killed mid-run, want %d; the workload is too small to test crashes", kills, trials, wantKills)
	}

	// Rerun to completion: every record exactly once.
	produce(300)
	c := startCrashChild(t, bin, nil, "ingest", "-kafka", strings.Join(brokers, ","), "-dir", dir, "-regex", regex, "-group", prefix)
	if err := c.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("final ingest: %v\n%s", err, c.tail())
	}
	snap, rows := crashReadRows(t, raw, schema)
	got := crashCheckRaw(t, "final", snap, rows, produced)
	if len(got) != len(produced) {
		var missing []string
		for p := range produced {
			if _, ok := got[p]; !ok {
				missing = append(missing, p)
			}
		}
		slices.Sort(missing)
		t.Fatalf("raw table holds %d records, produced %d; missing (first 10): %v", len(got), len(produced), missing[:min(10, len(missing))])
	}

	// DuckDB: replay the JSON log itself, then count the live files' rows.
	files := crashDuckDBLiveFiles(t, filepath.Join(dir, "raw/cdc"))
	if len(files) != len(snap.Files()) {
		t.Errorf("DuckDB's log replay finds %d live files, lakelog %d", len(files), len(snap.Files()))
	}
	counts := testenv.DuckDB(t, fmt.Sprintf(`SELECT count(*) AS n, count(DISTINCT (topic, "partition", "offset")) AS d
		FROM read_parquet([%s])`, strings.Join(files, ",")))
	if n, d := fmt.Sprint(counts[0]["n"]), fmt.Sprint(counts[0]["d"]); n != fmt.Sprint(len(produced)) || d != n {
		t.Errorf("DuckDB counts %s rows, %s distinct positions; want %d of each", n, d, len(produced))
	}
	t.Logf("final: %d records in %d files at version %d", len(got), len(snap.Files()), snap.Version())
}

// crashCheckRaw checks that each (topic, partition) of the raw table holds
// exactly the offsets [0, its txn version], once each, with the produced
// value bytes, and returns the positions found.
func crashCheckRaw(t *testing.T, what string, snap *lakelog.Snapshot, rows []crashRawRow, produced map[string][]byte) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	maxOffset := map[string]int64{}
	for _, r := range rows {
		p := r.position()
		if got[p] {
			t.Errorf("%s: record %s is in the raw table twice", what, p)
			continue
		}
		got[p] = true
		want, ok := produced[p]
		if !ok {
			t.Errorf("%s: record %s was never produced", what, p)
			continue
		}
		if v, _ := r["value"].([]byte); !bytes.Equal(v, want) {
			t.Errorf("%s: record %s value differs:\n got %q\nwant %q", what, p, v, want)
		}
		tp := fmt.Sprintf("%s/%d", r["topic"], r["partition"])
		maxOffset[tp] = max(maxOffset[tp], r["offset"].(int64)+1)
	}
	// Every offset below the highest one present must be there, and the
	// txn version must be the last offset written (schemas.IngestAppID).
	for tp, end := range maxOffset {
		for o := int64(0); o < end; o++ {
			if !got[fmt.Sprintf("%s/%d", tp, o)] {
				t.Errorf("%s: %s/%d missing below offset %d", what, tp, o, end-1)
			}
		}
		i := strings.LastIndexByte(tp, '/')
		part, _ := strconv.ParseInt(tp[i+1:], 10, 32)
		if v, ok := snap.AppVersion(schemas.IngestAppID(tp[:i], int32(part))); !ok || v != end-1 {
			t.Errorf("%s: txn version of %s is %d (present %v), last offset in the table %d", what, tp, v, ok, end-1)
		}
	}
	return got
}

// crashDataFiles lists the Parquet files under dir's raw table, relative to it.
func crashDataFiles(t testing.TB, dir string) map[string]bool {
	t.Helper()
	root := filepath.Join(dir, "raw/cdc")
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, "_delta_log") {
			rel, _ := filepath.Rel(root, p)
			out[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list data files: %v", err)
	}
	return out
}

// crashNewFiles counts the snapshot's files that were not in before.
func crashNewFiles(snap *lakelog.Snapshot, before map[string]bool) int {
	n := 0
	for _, a := range snap.Files() {
		if p, err := a.DecodedPath(); err == nil && !before[p] {
			n++
		}
	}
	return n
}

// crashDuckDBLiveFiles replays the JSON commits of the Delta table at dir
// in DuckDB (adds minus removes; the tables here never re-add a removed
// path) and returns the live data files as quoted SQL string literals.
func crashDuckDBLiveFiles(t *testing.T, dir string) []string {
	t.Helper()
	live := testenv.DuckDB(t, fmt.Sprintf(`
		WITH actions AS (SELECT json FROM read_ndjson_objects('%s')),
		adds AS (SELECT json->>'$.add.path' AS path FROM actions WHERE (json->'$.add') IS NOT NULL),
		removes AS (SELECT json->>'$.remove.path' AS path FROM actions WHERE (json->'$.remove') IS NOT NULL)
		SELECT path FROM adds WHERE path NOT IN (SELECT path FROM removes) ORDER BY path`, filepath.Join(dir, "_delta_log/*.json")))
	var files []string
	for _, r := range live {
		files = append(files, "'"+filepath.Join(dir, r["path"].(string))+"'")
	}
	return files
}
