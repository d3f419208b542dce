package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosql "github.com/go-sql-driver/mysql"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/tests/testenv"
)

// mariaFixture is a MariaDB database holding table t (mixed types, a
// composite primary key (k, id), ids unique on their own so the
// snapFixture readers keyed by id apply), an excluded table and a view,
// and a config whose source captures db.* minus the excluded table.
type mariaFixture struct {
	*snapFixture // dir, db, table, cfg: the lake readers and corrupt
	conn         *sql.DB
}

func newMariaFixture(t *testing.T, rows int) *mariaFixture {
	t.Helper()
	my := testenv.MySQL(t)
	dc := gosql.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr = my.User, my.Password, "tcp", my.Addr
	dc.MultiStatements = true
	conn, err := gosql.NewConnector(dc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	f := &mariaFixture{
		snapFixture: &snapFixture{db: testenv.UniqueName("snapmaria"), table: "t", dir: t.TempDir()},
		conn:        db,
	}
	f.exec(t, "CREATE DATABASE "+f.db)
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + f.db) })
	f.exec(t, fmt.Sprintf(`USE %s;
CREATE TABLE t (id BIGINT NOT NULL, k VARCHAR(8) NOT NULL, v INT, w TEXT, b BOOLEAN,
  d DECIMAL(12,3), ts DATETIME(3), PRIMARY KEY (k, id));
INSERT INTO t SELECT n, CONCAT('k', n %% 3), CASE WHEN n %% 5 = 0 THEN NULL ELSE n * 3 END,
  CASE WHEN n %% 7 = 0 THEN NULL ELSE CONCAT('row\t', n, '\n''q ü') END, n %% 2 = 0,
  n * 1.125, TIMESTAMP '2024-01-02 03:04:05.678' + INTERVAL n SECOND
FROM (WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %d) SELECT n FROM g) x;
CREATE TABLE other (id INT PRIMARY KEY);
INSERT INTO other VALUES (1), (2);
CREATE VIEW vw AS SELECT id, v FROM t;`, f.db, rows))
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	cfg := fmt.Sprintf(`warehouse: %s
log: {level: warn}
kafka:
  brokers: [%s]
sources:
  - name: maria
    type: mariadb
    topic_prefix: %s
    addr: %s
    user: %s
    password: '${TEST_SNAP_MYSQL_PASSWORD}'
    server_id: %d
    include: ['%s\..*']
    exclude: ['%s\.other']
`, f.dir, strings.Join(testenv.Kafka(t), ", "), f.db, my.Addr, my.User, 100000+rand.Uint32N(1<<30), f.db, f.db)
	t.Setenv("TEST_SNAP_MYSQL_PASSWORD", my.Password)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cfg = p
	return f
}

func (f *mariaFixture) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := f.conn.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// startCapture runs `sluice capture` in-process until the test ends.
func (f *mariaFixture) startCapture(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		var out, errb bytes.Buffer
		code := runMain(ctx, []string{"capture", "--config", f.cfg}, &cmdEnv{stdout: &out, stderr: &errb})
		done <- fmt.Sprintf("exit %d\n%s", code, errb.String())
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case res := <-done:
			t.Logf("capture: %s", res)
		case <-time.After(30 * time.Second):
			t.Errorf("capture did not stop within 30s of cancellation")
		}
	})
}

// nudgeBinlog commits a row to the excluded table, so the binlog position,
// and with it the next view's ordering key, moves past the one the lake has
// merged. Without it, a backfill on a quiet server reads at the very
// position of the initial snapshot, and merge skips its rows as not newer
// than the (corrupted) rows it would repair (merge skips a change whose
// ordering key is <= the row's): TestMariaDBBackfillOnQuietServer.
func (f *mariaFixture) nudgeBinlog(t *testing.T) {
	t.Helper()
	f.exec(t, fmt.Sprintf(`INSERT INTO %s.other SELECT COALESCE(MAX(id), 0) + 1 FROM %s.other`, f.db, f.db))
}

// source reads t from MariaDB: id → "v|w|b" in MariaDB's text forms.
func (f *mariaFixture) source(t *testing.T) map[string]string {
	t.Helper()
	rows, err := f.conn.Query(fmt.Sprintf(`SELECT CAST(id AS CHAR), CAST(v AS CHAR), w, CAST(b AS CHAR) FROM %s.t`, f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
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

// aggregates are per-k checks of the columns the id-keyed readers leave
// out (the key part k, the DECIMAL): "k|count|sum(d)", computed by MariaDB
// on the source and by DuckDB on the SCD1 table's live files.
func (f *mariaFixture) sourceAggregates(t *testing.T) string {
	t.Helper()
	rows, err := f.conn.Query(fmt.Sprintf(`SELECT k, COUNT(*), CAST(SUM(d) AS CHAR) FROM %s.t GROUP BY k ORDER BY k`, f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k, n, sum string
		if err := rows.Scan(&k, &n, &sum); err != nil {
			t.Fatal(err)
		}
		out = append(out, k+"|"+n+"|"+sum)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ";")
}

func (f *mariaFixture) lakeAggregatesDuckDB(t *testing.T) string {
	t.Helper()
	var out []string
	for _, row := range testenv.DuckDB(t, fmt.Sprintf(`SELECT k, CAST(COUNT(*) AS VARCHAR) AS n, CAST(SUM(d) AS VARCHAR) AS s FROM read_parquet([%s], union_by_name=true) GROUP BY k ORDER BY k`, f.liveFilesDuckDB(t))) {
		out = append(out, fmt.Sprint(row["k"], "|", row["n"], "|", row["s"]))
	}
	return strings.Join(out, ";")
}

// liveFilesDuckDB lists the SCD1 table's live data files as a DuckDB list
// body, from the Delta log as DuckDB reads it.
func (f *mariaFixture) liveFilesDuckDB(t *testing.T) string {
	t.Helper()
	dir := f.scd1Dir()
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	q := fmt.Sprintf(`WITH log AS (SELECT add.path AS a, remove.path AS r FROM read_ndjson(%s, columns={'add': 'STRUCT(path VARCHAR)', 'remove': 'STRUCT(path VARCHAR)'}))
SELECT DISTINCT a FROM log WHERE a IS NOT NULL AND a NOT IN (SELECT r FROM log WHERE r IS NOT NULL)`, lit(filepath.Join(dir, "_delta_log", "*.json")))
	var files []string
	for _, row := range testenv.DuckDB(t, q) {
		p, err := url.PathUnescape(fmt.Sprint(row["a"]))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, lit(filepath.Join(dir, filepath.FromSlash(p))))
	}
	if len(files) == 0 {
		t.Fatalf("%s: no live files", dir)
	}
	return strings.Join(files, ", ")
}

// `sluice snapshot` of a MariaDB source without --table loads exactly the
// captured base tables (not the excluded table, not the view); `sluice
// merge` makes the SCD1 table equal to the source (our reader, DuckDB);
// `sluice backfill --where` repairs a corrupted slice and nothing else; and
// `sluice validate --table` then reports the slice repaired.
//
// The snapshot runs the capture check for real: refused (exit 5) before
// `sluice capture` has stored a binlog position in Kafka, accepted once it
// has (capture runs in-process; it is never ingested, merge reads only the
// snapshot's rows). The backfills skip the check (--no-capture-check); t
// does not change after the snapshot. Column ts is checked only by
// validate, which compares every column.
func TestMariaDBSnapshotBackfillValidate(t *testing.T) {
	f := newMariaFixture(t, 1000)
	tid := f.db + ".t"
	snapArgs := []string{"snapshot", "--config", f.cfg, "--chunk-rows", "300", "--parallel", "2", "--progress", "none"}

	code, rep, stderr := runSnap(t, snapArgs...)
	if code != jobs.ExitNeedsAction || rep.Snapshot.Rows != 0 || !strings.Contains(stderr, "capture") {
		t.Fatalf("snapshot before capture ran: exit %d (want %d), rows %d\n%s", code, jobs.ExitNeedsAction, rep.Snapshot.Rows, stderr)
	}
	f.startCapture(t)
	deadline := time.Now().Add(2 * time.Minute) // capture first reads through other packages' binlog traffic
	for {
		// capture stores a position once it has sent a change of a captured
		// table (jobs sets no heartbeat): insert and delete a row of t.
		f.exec(t, fmt.Sprintf(`INSERT INTO %s.t (id, k) VALUES (0, 'tick'); DELETE FROM %s.t WHERE id = 0`, f.db, f.db))
		code, rep, stderr = runSnap(t, snapArgs...)
		if code != jobs.ExitNeedsAction || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code != 0 {
		t.Fatalf("snapshot with capture running: exit %d\n%s", code, stderr)
	}
	if c := rep.Snapshot.Sources[0].Capture; !c.Checked || !c.OK || !strings.Contains(c.Detail, "binlog") {
		t.Errorf("capture check in report: %+v", c)
	}
	if !rep.OK || rep.Snapshot.Rows != 1000 || len(rep.Snapshot.Sources) != 1 {
		t.Fatalf("snapshot report: %+v", rep)
	}
	if tb := rep.Snapshot.Sources[0].Tables; len(tb) != 1 || tb[0].Table != tid || tb[0].Rows != 1000 || tb[0].Chunks < 3 {
		t.Errorf("snapshot tables: %+v, want only %s, 1000 rows in ≥ 3 chunks", tb, tid)
	}
	if code, _, stderr := runWithin(t, 3*time.Minute, "merge", "--config", f.cfg); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	want := f.source(t)
	if len(want) != 1000 {
		t.Fatalf("source has %d rows", len(want))
	}
	if d := diff(want, f.lakeOurs(t)); len(d) > 0 {
		t.Errorf("SCD1 (our reader) differs from the source:\n%s", strings.Join(d, "\n"))
	}
	if d := diff(want, f.lakeDuckDB(t)); len(d) > 0 {
		t.Errorf("SCD1 (DuckDB) differs from the source:\n%s", strings.Join(d, "\n"))
	}
	if got, want := f.lakeAggregatesDuckDB(t), f.sourceAggregates(t); got != want {
		t.Errorf("per-k count and sum(d): DuckDB on the SCD1 table %q, MariaDB %q", got, want)
	}

	inSlice := func(id int64) bool { return id >= 10 && id <= 20 }
	outside := func(id int64) bool { return id >= 600 && id <= 605 }
	f.corrupt(t, func(id int64) bool { return inSlice(id) || outside(id) })
	before := f.lakeOurs(t)
	f.nudgeBinlog(t)

	// A --table the source does not capture (excluded, a view, absent) is
	// a usage error naming it.
	for _, bad := range []string{f.db + ".other", f.db + ".vw", f.db + ".nosuch"} {
		code, _, stderr := runSnap(t, "backfill", "--config", f.cfg, "--no-capture-check", "--table", bad, "--progress", "none")
		if code != jobs.ExitUsage || !strings.Contains(stderr, bad) {
			t.Errorf("backfill --table %s: exit %d (want %d), stderr %s", bad, code, jobs.ExitUsage, stderr)
		}
	}
	code, rep, stderr = runSnap(t, "backfill", "--config", f.cfg, "--no-capture-check", "--table", tid, "--where", "id BETWEEN 10 AND 20", "--progress", "none")
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

	// validate compares every column: the rows still corrupted outside
	// the slice show as changed (exit 4, naming them); a backfill of that
	// slice makes it report equal (exit 0).
	code, stdout, stderr := runWithin(t, 3*time.Minute, "validate", "--config", f.cfg, "--table", tid)
	if code != 4 || !strings.Contains(stdout+stderr, "600") {
		t.Errorf("validate with 6 corrupted rows: exit %d, want 4 naming id 600\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	f.nudgeBinlog(t)
	if code, _, stderr := runSnap(t, "backfill", "--config", f.cfg, "--no-capture-check", "--table", tid, "--where", "id BETWEEN 600 AND 605", "--progress", "none"); code != 0 {
		t.Fatalf("backfill 600..605: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runWithin(t, 3*time.Minute, "merge", "--config", f.cfg); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = runWithin(t, 3*time.Minute, "validate", "--config", f.cfg, "--table", tid)
	if code != 0 {
		t.Errorf("validate after the repairs: exit %d, want 0 (equal)\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if d := diff(want, f.lakeDuckDB(t)); len(d) > 0 {
		t.Errorf("SCD1 (DuckDB) differs from the source after the repairs:\n%s", strings.Join(d, "\n"))
	}
}

// A backfill on a quiet server (no binlog write since the initial
// snapshot) repairs rows corrupted in the lake, as on PostgreSQL.
// Regression: its view reads at the same binlog position P as the initial
// snapshot, so its rows carry the same ordering key as the merged rows, and
// merge used to skip a change whose key is <= the row's; a snapshot read at
// an equal key now replaces the row (a read at P is the source's state at P).
func TestMariaDBBackfillOnQuietServer(t *testing.T) {
	f := newMariaFixture(t, 700)
	if code, _, stderr := runSnap(t, "snapshot", "--config", f.cfg, "--no-capture-check", "--progress", "none"); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runWithin(t, 3*time.Minute, "merge", "--config", f.cfg); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	f.corrupt(t, func(id int64) bool { return (id >= 10 && id <= 20) || (id >= 600 && id <= 605) })
	if code, _, stderr := runSnap(t, "backfill", "--config", f.cfg, "--no-capture-check", "--table", f.db+".t", "--where", "id BETWEEN 1 AND 700", "--progress", "none"); code != 0 {
		t.Fatalf("backfill: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runWithin(t, 3*time.Minute, "merge", "--config", f.cfg); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	if d := diff(f.source(t), f.lakeOurs(t)); len(d) > 0 {
		t.Errorf("after backfill on a quiet server, SCD1 differs from the source:\n%s", strings.Join(d, "\n"))
	}
}
