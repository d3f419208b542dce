package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

var (
	sluiceOnce sync.Once
	sluicePath string
	sluiceErr  error
)

// sluiceBinary builds cmd/sluice once per test binary.
func sluiceBinary(t testing.TB) string {
	t.Helper()
	sluiceOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluicebin")
		if err != nil {
			sluiceErr = err
			return
		}
		sluicePath = filepath.Join(dir, "sluice")
		if out, err := exec.Command("go", "build", "-o", sluicePath, "../cmd/sluice").CombinedOutput(); err != nil {
			sluiceErr = fmt.Errorf("build sluice: %v\n%s", err, out)
		}
	})
	if sluiceErr != nil {
		t.Fatal(sluiceErr)
	}
	return sluicePath
}

// TestCrashSnapshotKill9 SIGKILLs a real `sluice snapshot` process at
// random moments (seeded) several times, then reruns the same command to
// completion and merges: the raw table holds every source row exactly
// once as a snapshot row (DuckDB), and the SCD1 table equals the source
// (our reader and DuckDB).
func TestCrashSnapshotKill9(t *testing.T) {
	bin := sluiceBinary(t)
	seed, rng := crashSeed(t)
	t.Logf("seed %d", seed)
	dbName, dsn := newPostgresDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	const rows = 20_000
	for _, sql := range []string{
		snapBulk.CreateSQL(workload.Postgres),
		fmt.Sprintf(`INSERT INTO snap_bulk SELECT g, g * 7, CASE WHEN g %% 9 = 0 THEN NULL ELSE md5(g::text) END, (g %% 100000) / 100.0,
			'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, %d) g`, rows),
		`ANALYZE snap_bulk`,
		`CREATE PUBLICATION crash_pub FOR TABLE snap_bulk`,
		`SELECT pg_create_logical_replication_slot('` + dbName + `_slot', 'pgoutput')`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "sluice.yaml")
	cfg := fmt.Sprintf(`warehouse: %s
log: {level: warn}
sources:
  - {name: app, type: postgres, dsn: '${CRASH_SNAP_DSN}', slot: %s_slot, publication: crash_pub}
`, dir, dbName)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"CRASH_SNAP_DSN=" + dsn}
	args := []string{"snapshot", "--config", cfgPath, "--chunk-rows", "500", "--parallel", "2", "--progress", "none", "--report", ""}

	const wantKills, maxTrials = 8, 30
	kills := 0
	for trial := 0; kills < wantKills && trial < maxTrials; trial++ {
		// Throttled so all runs together last about 7s and dies in its reads, writes
		// or commits.
		c := startCrashChild(t, bin, env, append(args, "--max-rows-per-sec", "3000")...)
		time.Sleep(time.Duration(150+rng.IntN(750)) * time.Millisecond)
		if c.kill() {
			kills++
			continue
		}
		if c.err != nil {
			t.Fatalf("trial %d: snapshot failed by itself: %v\n%s", trial, c.err, c.tail())
		}
		break // finished before the kill: nothing left to kill
	}
	t.Logf("%d kills landed", kills)
	if kills == 0 {
		t.Fatal("no kill landed mid-run")
	}
	c := startCrashChild(t, bin, env, args...)
	if err := c.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("final snapshot: %v\n%s", err, c.tail())
	}
	c = startCrashChild(t, bin, env, "merge", "--config", cfgPath)
	if err := c.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("merge: %v\n%s", err, c.tail())
	}

	// Exactly once in the raw table: no chunk committed twice.
	files := crashDuckDBLiveFiles(t, filepath.Join(dir, "raw/cdc"))
	got := testenv.DuckDB(t, fmt.Sprintf(`SELECT count(*) AS n, count(DISTINCT key) AS k FROM read_parquet([%s]) WHERE snapshot`, strings.Join(files, ",")))
	if n, k := fmt.Sprint(got[0]["n"]), fmt.Sprint(got[0]["k"]); n != fmt.Sprint(rows) || k != n {
		t.Errorf("raw snapshot rows: %s rows, %s distinct keys; want %d of each", n, k, rows)
	}

	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := &lake{store: store}
	compareSnapBulk(t, l, dbName, dir, readPostgres(t, conn, snapBulk), seed)
}
