package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/snapshot"
	"github.com/sluicehq/sluice/tests/testenv"
)

// An idle table with awkward text (tabs, newlines, backslashes, quotes),
// skewed keys and NULLs: every row arrives exactly once with its values,
// as an op "r" Debezium envelope ordered at the view's consistent point.
func TestSnapshotIdleExactlyOnce(t *testing.T) {
	pool, dsn := testPool(t)
	ctx := context.Background()
	name := testenv.UniqueName("snap_idle")
	exec(t, pool, fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, v int, w text)`, name))
	// Skewed: half the keys below 1000, the rest spread up to 10^12.
	exec(t, pool, fmt.Sprintf(`INSERT INTO %s SELECT CASE WHEN g %% 2 = 0 THEN g/2 ELSE g::bigint * 100000000 END, g, CASE WHEN g %% 7 = 0 THEN NULL ELSE E'w\t' || g || E'\n\\''x' END FROM generate_series(1, 2000) g`, name))

	src, err := New(ctx, Config{DSN: dsn, Tables: []string{"public." + name}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	raw := newRaw(t)
	var events atomic.Int64
	rep, err := snapshot.Run(ctx, src, raw, snapshot.Config{SnapshotID: "initial", TopicPrefix: "pfx", Parallel: 3, ChunkRows: 300},
		func(p snapshot.Progress) { events.Add(1) }, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Tables[0].Chunks; got < 6 {
		t.Errorf("chunks: got %d, want ≥ 6 for 2000 rows at 300 per chunk", got)
	}
	if rep.Rows != 2000 {
		t.Errorf("report rows: got %d, want 2000", rep.Rows)
	}
	if events.Load() == 0 {
		t.Error("no progress events")
	}

	rows := readRaw(t, raw)
	if len(rows) != 2000 {
		t.Fatalf("raw rows: got %d, want 2000", len(rows))
	}
	want := map[string]*string{}
	srcRows, err := pool.Query(ctx, fmt.Sprintf(`SELECT id::text, w FROM %s`, name))
	if err != nil {
		t.Fatal(err)
	}
	for srcRows.Next() {
		var id string
		var w *string
		if err := srcRows.Scan(&id, &w); err != nil {
			t.Fatal(err)
		}
		want[id] = w
	}
	seen := map[string]bool{}
	lasts := 0
	for _, r := range rows {
		id := fmt.Sprint(int64(r.after["id"].(float64)))
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
		w, ok := want[id]
		if !ok {
			t.Fatalf("id %s not in source", id)
		}
		if got := r.after["w"]; (w == nil) != (got == nil) || (w != nil && got != *w) {
			t.Errorf("id %s: w got %q, want %v", id, got, *w)
		}
		if fmt.Sprint(r.key["id"]) != fmt.Sprint(r.after["id"]) {
			t.Errorf("id %s: key %v", id, r.key)
		}
		if r.op != "r" || !r.snapshot || r.topic != "pfx.public."+name {
			t.Errorf("id %s: op %q snapshot %v topic %q", id, r.op, r.snapshot, r.topic)
		}
		// (consistent point, 0): 16 hex digits, then LSN 0.
		if len(r.orderingKey) != 33 || r.orderingKey[0] != 'P' || !strings.HasSuffix(r.orderingKey, strings.Repeat("0", 16)) {
			t.Errorf("id %s: ordering key %q, want P<point>0000000000000000", id, r.orderingKey)
		}
		if r.sourceSnapshot == "last" {
			lasts++
		}
	}
	if lasts != 1 {
		t.Errorf("rows with source.snapshot \"last\": got %d, want 1", lasts)
	}

	// A rerun of the finished snapshot is a no-op.
	rep2, err := snapshot.Run(ctx, src, raw, snapshot.Config{SnapshotID: "initial", TopicPrefix: "pfx", Parallel: 2, ChunkRows: 300}, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Rows != 0 || rep2.Tables[0].Skipped != rep.Tables[0].Chunks {
		t.Errorf("rerun: rows %d skipped %d, want 0 and %d", rep2.Rows, rep2.Tables[0].Skipped, rep.Tables[0].Chunks)
	}
}

// Composite keys split by row-value comparisons cover every row once.
func TestSnapshotCompositeKey(t *testing.T) {
	pool, dsn := testPool(t)
	ctx := context.Background()
	name := testenv.UniqueName("snap_comp")
	exec(t, pool, fmt.Sprintf(`CREATE TABLE %s (a int, b text, c timestamptz, PRIMARY KEY (a, b))`, name))
	// Few values of a, many of b: boundaries fall inside one a.
	exec(t, pool, fmt.Sprintf(`INSERT INTO %s SELECT g %% 3, 'k''' || g, '2024-01-02 03:04:05.5+02'::timestamptz + g * interval '1 second' FROM generate_series(1, 3000) g`, name))
	src, err := New(ctx, Config{DSN: dsn, Tables: []string{"public." + name}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	raw := newRaw(t)
	rep, err := snapshot.Run(ctx, src, raw, snapshot.Config{SnapshotID: "s1", TopicPrefix: "pfx", Parallel: 2, ChunkRows: 250}, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tables[0].Chunks < 10 {
		t.Errorf("chunks: got %d, want ≥ 10", rep.Tables[0].Chunks)
	}
	seen := map[string]bool{}
	for _, r := range readRaw(t, raw) {
		k := fmt.Sprint(r.after["a"], "/", r.after["b"])
		if seen[k] {
			t.Fatalf("key %s twice", k)
		}
		seen[k] = true
		if r.after["a"].(float64) == 1 && r.after["b"] == "k'1" {
			if got, want := r.after["c"], "2024-01-02T01:04:06.5Z"; got != want {
				t.Errorf("timestamptz: got %v, want %v", got, want)
			}
		}
	}
	if len(seen) != 3000 {
		t.Errorf("distinct keys: got %d, want 3000", len(seen))
	}
}

// Cancelled after a few chunks and run again with the same id: the rerun
// commits only the chunks left, and together the runs hold every row once.
func TestSnapshotResume(t *testing.T) {
	pool, dsn := testPool(t)
	ctx := context.Background()
	name := testenv.UniqueName("snap_resume")
	exec(t, pool, fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, v int)`, name))
	exec(t, pool, fmt.Sprintf(`INSERT INTO %s SELECT g, g FROM generate_series(1, 5000) g`, name))
	exec(t, pool, fmt.Sprintf(`ANALYZE %s`, name))
	src, err := New(ctx, Config{DSN: dsn, Tables: []string{"public." + name}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	raw := newRaw(t)
	cfg := snapshot.Config{SnapshotID: "resume", TopicPrefix: "pfx", Parallel: 2, ChunkRows: 250}

	runCtx, cancel := context.WithCancel(ctx)
	rep1, err := snapshot.Run(runCtx, src, raw, cfg, func(p snapshot.Progress) {
		if p.ChunksDone >= 3 {
			cancel()
		}
	}, testLogger(t))
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: got %v, want context.Canceled", err)
	}
	chunks := rep1.Tables[0].Chunks
	done1 := len(rep1.Tables[0].Commits)
	if done1 == 0 || done1 >= chunks {
		t.Fatalf("first run committed %d of %d chunks, want some but not all", done1, chunks)
	}

	rep2, err := snapshot.Run(ctx, src, raw, cfg, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep2.Tables[0].Skipped; got != done1 {
		t.Errorf("second run skipped %d chunks, want %d", got, done1)
	}
	if got := len(rep2.Tables[0].Commits); got != chunks-done1 {
		t.Errorf("second run committed %d chunks, want %d", got, chunks-done1)
	}
	seen := map[float64]int{}
	for _, r := range readRaw(t, raw) {
		seen[r.after["id"].(float64)]++
	}
	for id := 1; id <= 5000; id++ {
		if seen[float64(id)] != 1 {
			t.Fatalf("id %d present %d times, want once", id, seen[float64(id)])
		}
	}
	if len(seen) != 5000 {
		t.Errorf("distinct ids: got %d, want 5000", len(seen))
	}
	snap, err := raw.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for app := range snap.AppVersions() {
		if strings.HasPrefix(app, snapshot.AppIDPrefix+"resume|") {
			n++
		}
	}
	if n != chunks {
		t.Errorf("chunk txn appIds: got %d, want %d", n, chunks)
	}
}
