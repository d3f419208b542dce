package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/tests/testenv"
)

// snapFixture is a PostgreSQL table with capture's slot and publication
// set up (no capture process: the slot retains changes, which is what the
// capture check asks for), and a config pointing at it.
type snapFixture struct {
	conn      *pgx.Conn
	db, table string
	slot, pub string
	dir       string // warehouse
	cfg       string // config path
}

func newSnapFixture(t *testing.T, rows int) *snapFixture {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	f := &snapFixture{conn: conn, table: testenv.UniqueName("snapcmd"), dir: t.TempDir()}
	f.slot, f.pub = f.table+"_slot", f.table+"_pub"
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&f.db); err != nil {
		t.Fatal(err)
	}
	f.exec(t, fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, v int, w text, b boolean)`, f.table))
	f.exec(t, fmt.Sprintf(`INSERT INTO %s SELECT g, CASE WHEN g %% 5 = 0 THEN NULL ELSE g * 3 END,
		CASE WHEN g %% 7 = 0 THEN NULL ELSE E'row\t' || g || E'\n''q' END, g %% 2 = 0 FROM generate_series(1, %d) g`, f.table, rows))
	f.exec(t, fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE %s`, f.pub, f.table))
	f.exec(t, fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'pgoutput')`, f.slot))
	t.Cleanup(func() {
		ctx := context.Background()
		// A forgotten slot would retain WAL for ever.
		conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, f.slot)
		conn.Exec(ctx, `DROP PUBLICATION IF EXISTS `+f.pub)
		conn.Exec(ctx, `DROP TABLE IF EXISTS `+f.table)
	})
	f.cfg = f.writeConfig(t, f.slot)
	return f
}

func (f *snapFixture) writeConfig(t *testing.T, slot string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	cfg := fmt.Sprintf(`warehouse: %s
log: {level: warn}
sources:
  - name: app
    type: postgres
    dsn: '${TEST_SNAP_DSN}'
    slot: %s
    publication: %s
    include: ['public\.%s']
`, f.dir, slot, f.pub, f.table)
	t.Setenv("TEST_SNAP_DSN", testenv.PostgresDSN(t))
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *snapFixture) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := f.conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// scd1Dir is the SCD1 table's directory: <warehouse>/tables/<db>/<table>
// (the documented default location for the public schema).
func (f *snapFixture) scd1Dir() string { return filepath.Join(f.dir, "tables", f.db, f.table) }

const nullText = "<null>"

// source reads the table from PostgreSQL: id → "v|w|b" in PostgreSQL's
// text forms.
func (f *snapFixture) source(t *testing.T) map[string]string {
	t.Helper()
	rows, err := f.conn.Query(context.Background(), fmt.Sprintf(`SELECT id::text, v::text, w, b::text FROM %s`, f.table))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var id string
		var v, w, b *string
		if err := rows.Scan(&id, &v, &w, &b); err != nil {
			t.Fatal(err)
		}
		out[id] = joinVals(v, w, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func joinVals(vals ...*string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = nullText
		if v != nil {
			parts[i] = *v
		}
	}
	return strings.Join(parts, "|")
}

// lakeOurs reads the SCD1 table with lakelog and datafile.
func (f *snapFixture) lakeOurs(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	store, err := fileblob.New(f.scd1Dir())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
	if err != nil {
		t.Fatalf("SCD1 table: %v", err)
	}
	schema := snap.Schema()
	idx := func(name string) int {
		i := slices.IndexFunc(schema.Fields, func(fl *lakelog.StructField) bool { return fl.Name == name })
		if i < 0 {
			t.Fatalf("SCD1 table has no column %s: %s", name, schema)
		}
		return i
	}
	cols := []int{idx("id"), idx("v"), idx("w"), idx("b")}
	out := map[string]string{}
	for _, add := range snap.Files() {
		rows, err := datafile.ReadFile(ctx, store, add, schema)
		if err != nil {
			t.Fatal(err)
		}
		for {
			row, ok := rows.Next()
			if !ok {
				break
			}
			vals := make([]*string, 3)
			for i, c := range cols[1:] {
				if row[c] != nil {
					s := fmt.Sprint(row[c])
					vals[i] = &s
				}
			}
			id := fmt.Sprint(row[cols[0]])
			if _, dup := out[id]; dup {
				t.Errorf("id %s twice in the SCD1 table", id)
			}
			out[id] = joinVals(vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// lakeDuckDB reads the SCD1 table with DuckDB: the live files by replaying
// the Delta log's JSON commits (adds minus removes), then read_parquet.
func (f *snapFixture) lakeDuckDB(t *testing.T) map[string]string {
	t.Helper()
	dir := f.scd1Dir()
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	logGlob := filepath.Join(dir, "_delta_log", "*.json")
	if m, _ := filepath.Glob(filepath.Join(dir, "_delta_log", "*.checkpoint*.parquet")); len(m) > 0 {
		t.Fatalf("%s has a checkpoint; this reader replays JSON commits only", dir)
	}
	q := fmt.Sprintf(`WITH log AS (SELECT add.path AS a, remove.path AS r FROM read_ndjson(%s, columns={'add': 'STRUCT(path VARCHAR)', 'remove': 'STRUCT(path VARCHAR)'}))
SELECT DISTINCT a FROM log WHERE a IS NOT NULL AND a NOT IN (SELECT r FROM log WHERE r IS NOT NULL)`, lit(logGlob))
	var files []string
	for _, row := range testenv.DuckDB(t, q) {
		p, err := url.PathUnescape(fmt.Sprint(row["a"]))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, lit(filepath.Join(dir, filepath.FromSlash(p))))
	}
	out := map[string]string{}
	if len(files) == 0 {
		return out
	}
	q = fmt.Sprintf(`SELECT CAST(id AS VARCHAR) AS id, CAST(v AS VARCHAR) AS v, w, CAST(b AS VARCHAR) AS b FROM read_parquet([%s], union_by_name=true)`, strings.Join(files, ", "))
	for _, row := range testenv.DuckDB(t, q) {
		vals := make([]*string, 3)
		for i, c := range []string{"v", "w", "b"} {
			if row[c] != nil {
				s := fmt.Sprint(row[c])
				vals[i] = &s
			}
		}
		id := fmt.Sprint(row["id"])
		if _, dup := out[id]; dup {
			t.Errorf("DuckDB: id %s twice in the SCD1 table", id)
		}
		out[id] = joinVals(vals...)
	}
	return out
}

// diff lists up to 10 ids whose values differ (or are missing on a side).
func diff(want, got map[string]string) []string {
	var out []string
	for id, w := range want {
		if g, ok := got[id]; !ok || g != w {
			out = append(out, fmt.Sprintf("id %s: lake %q (present %v), source %q", id, g, ok, w))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			out = append(out, fmt.Sprintf("id %s: lake %q, not in source", id, g))
		}
	}
	slices.Sort(out)
	return out[:min(len(out), 10)]
}

// snapReport is the part of the JSON report the tests check, decoded
// without our types.
type snapReport struct {
	Job      string `json:"job"`
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error"`
	Snapshot struct {
		SnapshotID string `json:"snapshot_id"`
		Rows       int64  `json:"rows"`
		Sources    []struct {
			Capture struct {
				Checked bool   `json:"checked"`
				OK      bool   `json:"ok"`
				Detail  string `json:"detail"`
			} `json:"capture"`
			Tables []struct {
				Table         string `json:"table"`
				Chunks        int    `json:"chunks"`
				ChunksSkipped int    `json:"chunks_skipped"`
				Rows          int64  `json:"rows"`
			} `json:"tables"`
		} `json:"sources"`
	} `json:"snapshot"`
}

func runSnap(t *testing.T, args ...string) (int, snapReport, string) {
	t.Helper()
	code, stdout, stderr := runWithin(t, 3*time.Minute, args...)
	var rep snapReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: report is not JSON (exit %d): %v\nstdout: %s\nstderr: %s", args, code, err, stdout, stderr)
	}
	if rep.ExitCode != code {
		t.Errorf("%v: report exit_code %d, process exit %d", args, rep.ExitCode, code)
	}
	return code, rep, stderr
}

// `sluice snapshot` of a real PostgreSQL table, then `sluice merge`: the
// SCD1 table equals the source, read by our reader and by DuckDB. A rerun
// resumes (nothing left to load), and a missing slot refuses with exit 5.
func TestSnapshotCommandThenMerge(t *testing.T) {
	f := newSnapFixture(t, 3000)

	// Capture not set up: refused before reading, exit 5, naming the slot.
	noSlot := f.writeConfig(t, "sluice_no_such_slot")
	code, rep, stderr := runSnap(t, "snapshot", "--config", noSlot, "--progress", "none")
	if code != jobs.ExitNeedsAction || !strings.Contains(stderr, "sluice_no_such_slot") || rep.Snapshot.Rows != 0 {
		t.Errorf("snapshot without a slot: exit %d (want %d), rows %d, stderr %s", code, jobs.ExitNeedsAction, rep.Snapshot.Rows, stderr)
	}

	code, rep, stderr = runSnap(t, "snapshot", "--config", f.cfg, "--table", "public."+f.table, "--parallel", "3", "--chunk-rows", "400", "--progress", "json")
	if code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, stderr)
	}
	if rep.Job != "snapshot" || !rep.OK || rep.Snapshot.SnapshotID != jobs.DefaultSnapshotID || rep.Snapshot.Rows != 3000 {
		t.Errorf("report: %+v", rep)
	}
	if len(rep.Snapshot.Sources) != 1 || !rep.Snapshot.Sources[0].Capture.OK || !strings.Contains(rep.Snapshot.Sources[0].Capture.Detail, "not active") {
		t.Errorf("capture check in report: %+v", rep.Snapshot.Sources)
	} else if tb := rep.Snapshot.Sources[0].Tables; len(tb) != 1 || tb[0].Chunks < 6 {
		t.Errorf("tables in report: %+v, want one table in ≥ 6 chunks", tb)
	}
	var lines int
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var p struct {
			Progress string `json:"progress"`
			Table    string `json:"table"`
			Rows     int64  `json:"rows"`
			Done     bool   `json:"done"`
		}
		if json.Unmarshal([]byte(l), &p) == nil && p.Progress == "snapshot" {
			lines++
			if p.Done && p.Rows != 3000 {
				t.Errorf("final progress line: %s", l)
			}
		}
	}
	if lines < 6 {
		t.Errorf("%d JSON progress lines on stderr, want one per chunk (≥ 6):\n%s", lines, stderr)
	}

	// A rerun with the default id finds every chunk committed.
	code, rep, stderr = runSnap(t, "snapshot", "--config", f.cfg, "--progress", "none")
	if code != 0 || rep.Snapshot.Rows != 0 || len(rep.Snapshot.Sources) != 1 ||
		rep.Snapshot.Sources[0].Tables[0].ChunksSkipped != rep.Snapshot.Sources[0].Tables[0].Chunks {
		t.Errorf("rerun: exit %d, report %+v\n%s", code, rep.Snapshot, stderr)
	}

	if code, _, stderr := runWithin(t, 3*time.Minute, "merge", "--config", f.cfg); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	want := f.source(t)
	if len(want) != 3000 {
		t.Fatalf("source has %d rows", len(want))
	}
	if d := diff(want, f.lakeOurs(t)); len(d) > 0 {
		t.Errorf("SCD1 (our reader) differs from the source:\n%s", strings.Join(d, "\n"))
	}
	if d := diff(want, f.lakeDuckDB(t)); len(d) > 0 {
		t.Errorf("SCD1 (DuckDB) differs from the source:\n%s", strings.Join(d, "\n"))
	}
}

// Rows deliberately corrupted in the SCD1 table (a rewritten data file
// committed through lakelog) are repaired by `sluice backfill --where` of
// their slice; corrupted rows outside the slice stay as they are, and every
// other row is untouched.
func TestBackfillWhereRepairsCorruptedRows(t *testing.T) {
	f := newSnapFixture(t, 1000)
	if code, _, stderr := runSnap(t, "snapshot", "--config", f.cfg, "--progress", "none"); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runWithin(t, 3*time.Minute, "merge", "--config", f.cfg); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	inSlice := func(id int64) bool { return id >= 10 && id <= 20 }
	outside := func(id int64) bool { return id >= 600 && id <= 605 }
	f.corrupt(t, func(id int64) bool { return inSlice(id) || outside(id) })

	want := f.source(t)
	before := f.lakeOurs(t)
	if n := len(diff(want, before)); n != 10 { // capped at 10: 17 differ
		t.Fatalf("corruption did not show: %d differing ids", n)
	}

	// --where without --table, or with two, is a usage error.
	if code, _, _ := runSnap(t, "backfill", "--config", f.cfg, "--where", "id < 3", "--progress", "none"); code != jobs.ExitUsage {
		t.Errorf("backfill --where without --table: exit %d, want %d", code, jobs.ExitUsage)
	}
	code, rep, stderr := runSnap(t, "backfill", "--config", f.cfg, "--table", f.db+".public."+f.table, "--where", "id BETWEEN 10 AND 20", "--progress", "none")
	if code != 0 {
		t.Fatalf("backfill: exit %d\n%s", code, stderr)
	}
	if rep.Job != "backfill" || rep.Snapshot.Rows != 11 || !strings.HasPrefix(rep.Snapshot.SnapshotID, "backfill-") {
		t.Errorf("backfill report: %+v", rep)
	}
	if code, _, stderr := runWithin(t, 3*time.Minute, "merge", "--config", f.cfg); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	for name, got := range map[string]map[string]string{"our reader": f.lakeOurs(t), "DuckDB": f.lakeDuckDB(t)} {
		if len(got) != len(want) {
			t.Errorf("%s: %d rows, source %d", name, len(got), len(want))
		}
		for id, w := range want {
			var n int64
			fmt.Sscan(id, &n)
			switch {
			case outside(n):
				if got[id] != before[id] || !strings.Contains(got[id], "CORRUPT") {
					t.Errorf("%s: id %s outside the slice changed: %q, was %q", name, id, got[id], before[id])
				}
			case got[id] != w:
				t.Errorf("%s: id %s: lake %q, source %q", name, id, got[id], w)
			}
		}
	}
}

// corrupt rewrites the SCD1 table's data files with column w of the rows
// whose id bad selects replaced, and commits the rewrite (remove old files,
// add new ones) through lakelog, as a buggy writer would.
func (f *snapFixture) corrupt(t *testing.T, bad func(id int64) bool) {
	t.Helper()
	ctx := context.Background()
	store, err := fileblob.New(f.scd1Dir())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	schema := snap.Schema()
	idCol := slices.IndexFunc(schema.Fields, func(fl *lakelog.StructField) bool { return fl.Name == "id" })
	wCol := slices.IndexFunc(schema.Fields, func(fl *lakelog.StructField) bool { return fl.Name == "w" })
	tx := snap.Begin("WRITE")
	changed := 0
	for _, add := range snap.Files() {
		rows, err := datafile.ReadFile(ctx, store, add, schema)
		if err != nil {
			t.Fatal(err)
		}
		w, err := datafile.NewWriter(schema, datafile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			row, ok := rows.Next()
			if !ok {
				break
			}
			row = slices.Clone(row)
			if id, ok := row[idCol].(int64); ok && bad(id) {
				row[wCol] = fmt.Sprintf("CORRUPT %d", id)
				changed++
			}
			if err := w.Write(row); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		na, err := w.Finish(ctx, store, "")
		if err != nil {
			t.Fatal(err)
		}
		tx.RemoveFile(add, true)
		tx.Add(na)
	}
	if changed != 17 {
		t.Fatalf("corrupted %d rows, want 17", changed)
	}
	if _, err := tx.Commit(ctx); err != nil && !errors.Is(err, lakelog.ErrConflict) {
		t.Fatal(err)
	} else if err != nil {
		t.Fatalf("corrupt commit: %v", err)
	}
}
