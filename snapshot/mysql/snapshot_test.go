package mysql

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas/mysqltype"
	"github.com/sluicehq/sluice/snapshot"
)

// A composite-key table with skewed keys (most rows under one a): every
// row arrives exactly once, as an op "r" envelope at the view's binlog
// position, in chunks of even size (min/max arithmetic would put nearly
// all rows in one chunk).
func TestSnapshotCompositeSkewedExactlyOnce(t *testing.T) {
	db, name, cfg := testDB(t)
	ctx := context.Background()
	exec(t, db, `CREATE TABLE t (a BIGINT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b))`)
	// 2700 rows with a = 1, 300 spread up to 10^15.
	var vals []string
	for i := range 3000 {
		a := int64(1)
		if i%10 == 0 {
			a = int64(i) * 1_000_000_000_000
		}
		vals = append(vals, fmt.Sprintf("(%d, 'k%05d', %d)", a, i, i))
	}
	exec(t, db, `INSERT INTO t VALUES `+strings.Join(vals, ","))
	exec(t, db, `ANALYZE TABLE t`)

	src := newSource(t, cfg, name+".t")
	raw := newRaw(t)
	rep, err := snapshot.Run(ctx, src, raw, snapshot.Config{SnapshotID: "s1", TopicPrefix: "pfx", Parallel: 3, ChunkRows: 300}, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Tables[0].Chunks; got < 6 {
		t.Errorf("chunks: got %d, want ≥ 6 for 3000 rows at 300 per chunk", got)
	}
	rows := readRaw(t, raw)
	if len(rows) != 3000 {
		t.Fatalf("raw rows: got %d, want 3000", len(rows))
	}
	seen := map[string]bool{}
	perChunk := map[string]int{}
	last := 0
	for _, r := range rows {
		k := fmt.Sprint(r.key["a"], "/", r.key["b"])
		if seen[k] {
			t.Errorf("key %s twice", k)
		}
		seen[k] = true
		perChunk[r.batchID]++
		if r.op != "r" || !r.snapshot || r.topic != "pfx."+name+".t" {
			t.Errorf("row %s: op %q snapshot %v topic %q", k, r.op, r.snapshot, r.topic)
		}
		if r.file == "" || r.pos < 4 || !strings.HasPrefix(r.orderingKey, "M") {
			t.Errorf("row %s: file %q pos %v ordering key %q", k, r.file, r.pos, r.orderingKey)
		}
		if r.sourceSnapshot == "last" {
			last++
		}
		// v was i, b was k<i>.
		if want := fmt.Sprintf("k%05d", int(r.after["v"].(float64))); r.after["b"] != want {
			t.Errorf("row %s: b %v, want %s", k, r.after["b"], want)
		}
	}
	if last != 1 {
		t.Errorf("rows marked last: %d, want 1", last)
	}
	for id, n := range perChunk {
		if n > 600 {
			t.Errorf("chunk %s holds %d rows, want ≤ 600 (2×chunk rows) with key-distribution boundaries", id, n)
		}
	}
}

// Config.Where limits boundaries and chunks to the slice.
func TestSnapshotWhere(t *testing.T) {
	db, name, cfg := testDB(t)
	ctx := context.Background()
	exec(t, db, `CREATE TABLE t (id INT PRIMARY KEY, v INT)`)
	exec(t, db, `INSERT INTO t SELECT seq, seq % 7 FROM seq_1_to_2000`)
	exec(t, db, `ANALYZE TABLE t`)
	src := newSource(t, cfg, name+".t")
	raw := newRaw(t)
	rep, err := snapshot.Run(ctx, src, raw, snapshot.Config{
		SnapshotID: "w", TopicPrefix: "pfx", Parallel: 2, ChunkRows: 200,
		Where: map[string]string{name + ".t": "v = 3 OR id > 1990"},
	}, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for id := 1; id <= 2000; id++ {
		if id%7 == 3 || id > 1990 {
			want++
		}
	}
	rows := readRaw(t, raw)
	if len(rows) != want || rep.Rows != int64(want) {
		t.Fatalf("rows: raw %d, report %d, want %d", len(rows), rep.Rows, want)
	}
	for _, r := range rows {
		id := int(r.after["id"].(float64))
		if !(id%7 == 3 || id > 1990) {
			t.Errorf("row %d is outside the slice", id)
		}
	}
	if rep.Tables[0].Chunks < 2 {
		t.Errorf("chunks %d: want the slice split too", rep.Tables[0].Chunks)
	}
}

// A snapshot killed after its first committed chunk resumes with the same
// id: committed chunks are skipped, every row ends up exactly once.
func TestSnapshotResume(t *testing.T) {
	db, name, cfg := testDB(t)
	exec(t, db, `CREATE TABLE t (id INT PRIMARY KEY, v INT)`)
	exec(t, db, `INSERT INTO t SELECT seq, seq FROM seq_1_to_3000`)
	exec(t, db, `ANALYZE TABLE t`)
	src := newSource(t, cfg, name+".t")
	raw := newRaw(t)
	conf := snapshot.Config{SnapshotID: "resume", TopicPrefix: "pfx", Parallel: 1, ChunkRows: 250}

	ctx, cancel := context.WithCancel(context.Background())
	_, err := snapshot.Run(ctx, src, raw, conf, func(p snapshot.Progress) {
		if p.ChunksDone >= 2 {
			cancel()
		}
	}, testLogger(t))
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err %v, want context.Canceled", err)
	}
	first := len(readRaw(t, raw))
	if first == 0 || first >= 3000 {
		t.Fatalf("first run wrote %d rows, want some but not all", first)
	}
	rep, err := snapshot.Run(context.Background(), src, raw, conf, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tables[0].Skipped < 2 {
		t.Errorf("resumed run skipped %d chunks, want ≥ 2", rep.Tables[0].Skipped)
	}
	seen := map[float64]int{}
	for _, r := range readRaw(t, raw) {
		seen[r.after["id"].(float64)]++
	}
	if len(seen) != 3000 {
		t.Errorf("distinct rows %d, want 3000", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("id %v: %d copies", id, n)
		}
	}
}

func TestTableWithoutPrimaryKey(t *testing.T) {
	db, name, cfg := testDB(t)
	exec(t, db, `CREATE TABLE nokey (v INT)`)
	src := newSource(t, cfg, name+".nokey")
	_, err := src.Tables(context.Background())
	if err == nil || !strings.Contains(err.Error(), name+".nokey") || !strings.Contains(err.Error(), "primary key") {
		t.Fatalf("err %v: want an error naming %s.nokey and its missing primary key", err, name)
	}
}

func TestRangePredicate(t *testing.T) {
	cols := []mysqltype.Column{}
	for _, d := range []mysqltype.Def{{Name: "a", Type: mysqltype.LongLong}, {Name: "b", Type: mysqltype.String}, {Name: "c", Type: mysqltype.String, Binary: true}} {
		c, err := mysqltype.NewColumn(d)
		if err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	tbl := &snapshot.Table{}
	for _, c := range cols {
		tbl.Columns = append(tbl.Columns, c.Column)
	}
	mt := &myTable{t: tbl, columns: cols, keyCols: []string{"`a`", "`b`", "`c`"}, keyBinary: []bool{false, false, true}}
	got, args, err := rangePredicate(mt, snapshot.Bound{"5", "x", "00ff"}, snapshot.Bound{"9", "y", "01"})
	if err != nil {
		t.Fatal(err)
	}
	want := "(`a` > ? OR (`a` = ? AND (`b` > ? OR (`b` = ? AND `c` > UNHEX(?))))) AND " +
		"(`a` < ? OR (`a` = ? AND (`b` < ? OR (`b` = ? AND `c` <= UNHEX(?)))))"
	if got != want {
		t.Errorf("predicate\n got %s\nwant %s", got, want)
	}
	wantArgs := []any{int64(5), int64(5), "x", "x", "00ff", int64(9), int64(9), "y", "y", "01"}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args %#v, want %#v", args, wantArgs)
	}
	if _, _, err := rangePredicate(mt, snapshot.Bound{"5"}, nil); err == nil {
		t.Error("short bound: no error")
	}
}

func TestStatusQuery(t *testing.T) {
	for v, want := range map[string]string{
		"8.0.36": "SHOW MASTER STATUS", "8.2.0": "SHOW BINARY LOG STATUS", "8.4.3-log": "SHOW BINARY LOG STATUS",
		"9.1.0": "SHOW BINARY LOG STATUS", "5.7.44-log": "SHOW MASTER STATUS",
	} {
		if got := statusQuery(v); got != want {
			t.Errorf("statusQuery(%s) = %s, want %s", v, got, want)
		}
	}
}
