package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/postgres"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

// snapBulk is the big table of the snapshot tests, described as a
// workload table so the shared readers and comparison apply.
var snapBulk = workload.Table{Name: "snap_bulk", Columns: []workload.Column{
	{Name: "id", SQLType: "bigint", Kind: workload.KindInt, Key: true},
	{Name: "v", SQLType: "bigint", Kind: workload.KindInt},
	{Name: "w", SQLType: "text", Kind: workload.KindText},
	{Name: "amount", SQLType: "numeric(12,2)", Kind: workload.KindDecimal},
	{Name: "ts", SQLType: "timestamptz", Kind: workload.KindTsTz},
}}

// snapBulkToast is snapBulk with big, a ~3 KB incompressible value on
// every snapBigEvery-th row: PostgreSQL stores it out of line (TOAST), so
// an update that leaves it alone sends it as unchanged-TOAST, i.e. not at
// all.
var snapBulkToast = workload.Table{Name: snapBulk.Name, Columns: append(append([]workload.Column(nil), snapBulk.Columns...),
	workload.Column{Name: "big", SQLType: "text", Kind: workload.KindText})}

// snapBigEvery: every n-th preloaded snap_bulk row has a big value.
const snapBigEvery = 10

// snapE2ESize is rows and seeds of the under-writes tests: ciRows in CI,
// 1.2M under SLUICE_SOAK=1 (3 seeds); SLUICE_SNAPSHOT_SEEDS overrides the
// seeds, SLUICE_E2E_SEED replays one.
func snapE2ESize(ciRows, ciSeeds int) (rows, seeds int) {
	rows, seeds = ciRows, ciSeeds
	if os.Getenv("SLUICE_SOAK") != "" {
		rows, seeds = 1_200_000, 3
	}
	if s := os.Getenv("SLUICE_SNAPSHOT_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("SLUICE_SNAPSHOT_SEEDS"); s != "" {
		seeds, _ = strconv.Atoi(s)
	}
	if os.Getenv("SLUICE_E2E_SEED") != "" {
		seeds = 1
	}
	return rows, seeds
}

// snapHoldBack says whether the merges during the snapshot go through
// jobs.Merge, which holds back tables whose snapshot is in progress (the
// default, what `sluice merge` and the scheduler do), or straight to
// merge.Run without it (SLUICE_SNAPSHOT_NO_HOLDBACK=1: shows what the hold
// prevents; the test is then expected to fail).
func snapHoldBack() bool { return os.Getenv("SLUICE_SNAPSHOT_NO_HOLDBACK") == "" }

// snapMergeYAML makes the merges read at most 1 MiB of raw data per pass,
// so that even a CI-size snapshot's backlog would be merged in passes if
// the merge allowed it (the soak-size one, 1.2M rows, found that passes
// must not split a sluice snapshot from the changes newer than its rows).
const snapMergeYAML = "merge:\n  max_pass_mb: 1\n"

// TestE2ESnapshotPostgresUnderWrites: rows that exist before capture
// starts (a bulk table with TOAST-sized values, and the workload's typed
// tables) are loaded by jobs.Snapshot while writers update (leaving the
// TOAST column untouched), delete, insert and change primary keys of the
// same rows, and capture → Kafka → ingest → merge keeps running, merge
// included, as a user's cron does. After the writers stop and the stream
// drains, every SCD1 table equals its source exactly (our reader and
// DuckDB). Rows: 40k in CI, 1.2M under SLUICE_SOAK=1.
func TestE2ESnapshotPostgresUnderWrites(t *testing.T) {
	rows, seeds := snapE2ESize(40_000, 1)
	for i := range seeds {
		t.Run(fmt.Sprintf("seed%d", i), func(t *testing.T) { runSnapshotPostgresE2E(t, rows) })
	}
}

func runSnapshotPostgresE2E(t *testing.T, bulkRows int) {
	brokers := testenv.Kafka(t)
	dbName, dsn := newPostgresDB(t)
	seed := e2eSeed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	prefix := testenv.UniqueName("e2esnap")
	slot, pub := dbName+"_slot", "e2e_pub"
	dir := t.TempDir()
	cfgText := fmt.Sprintf(`warehouse: %s
sources:
  - {name: app, type: postgres, dsn: '${SNAP_E2E_DSN}', slot: %s, publication: %s, topic_prefix: %s}
%s`, dir, slot, pub, prefix, snapMergeYAML)
	cfg, err := jobs.ParseConfig([]byte(cfgText), func(k string) (string, bool) { return dsn, k == "SNAP_E2E_DSN" })
	if err != nil {
		t.Fatal(err)
	}
	bulkSQL := fmt.Sprintf(`INSERT INTO snap_bulk SELECT g, g * 7, md5(g::text), (g %% 100000) / 100.0,
		'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
		CASE WHEN g %% %d = 0 THEN (SELECT string_agg(md5(g::text || '.' || i::text), '') FROM generate_series(1, 100) i) END
		FROM generate_series(1, %d) g`, snapBigEvery, bulkRows)
	newWriter := func(ctx context.Context) (workload.Execer, func(), error) {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		return pgExec{c}, func() { c.Close(context.Background()) }, nil
	}
	runSnapshotE2E(t, ctx, snapE2E{
		dialect: workload.Postgres, dbName: dbName, schema: "public", seed: seed, bulkRows: bulkRows,
		admin: pgExec{conn}, newWriter: newWriter, bulk: snapBulkToast,
		preload: []string{snapBulkToast.CreateSQL(workload.Postgres), bulkSQL, `ANALYZE snap_bulk`},
		cfg:     cfg, dir: dir, brokers: brokers, prefix: prefix,
		startCapture: func(w *workload.Workload) func() {
			var tables []string
			for _, wt := range append(w.Tables(), snapBulkToast) {
				tables = append(tables, "public."+wt.Name)
			}
			src, err := postgres.New(ctx, postgres.Config{DSN: dsn, SlotName: slot, Publication: pub, Tables: tables, TopicPrefix: prefix}, e2eLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			stop := runCapture(t, src, capture.Config{
				Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix,
				WithSchema: true, AutoCreateTopics: true,
			})
			waitSlotActive(t, conn, slot)
			return stop
		},
		read: func(wt workload.Table) rowSet { return readPostgres(t, conn, wt) },
	})
}

// snapE2E is one source flavour of the snapshot-under-writes test.
type snapE2E struct {
	dialect        workload.Dialect
	dbName, schema string // schema: PostgreSQL's ("public"), "" for MariaDB
	seed           uint64
	bulkRows       int
	admin          workload.Execer // the workload's setup and markers
	// newWriter opens a session for a writer goroutine.
	newWriter func(ctx context.Context) (workload.Execer, func(), error)
	bulk      workload.Table
	preload   []string // create and fill the bulk table, before capture
	cfg       *jobs.Config
	dir       string // the warehouse
	brokers   []string
	prefix    string
	// startCapture starts capture of the workload's and the bulk table and
	// returns once every later write is captured.
	startCapture func(w *workload.Workload) (stop func())
	read         func(workload.Table) rowSet
	// bulkSession prepares a bulk writer's session (MariaDB: minimal row
	// images); nil for none.
	bulkSession []string
}

// runSnapshotE2E preloads the source, starts capture, then runs the
// snapshot while writers, ingest and merge run, and compares at the end.
func runSnapshotE2E(t *testing.T, ctx context.Context, s snapE2E) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (replay: SLUICE_E2E_SEED=%d go test -run '%s' ./tests/)", s.seed, s.seed, t.Name())
		}
	})
	// Rows that only the snapshot can bring: written before capture.
	w := workload.New(s.dialect, s.seed)
	if err := w.Setup(ctx, s.admin); err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx, s.admin, 300); err != nil {
		t.Fatal(err)
	}
	for _, sql := range s.preload {
		if err := s.admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", short(sql), err)
		}
	}
	stopCapture := s.startCapture(w)
	store, err := fileblob.New(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	topicSchema := s.schema
	if topicSchema == "" {
		topicSchema = s.dbName
	}
	l := newLake(store, s.brokers, topicRegex(s.prefix, topicSchema))

	// Writers, ingest and merge run until the snapshot is done.
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	writer := func(run func(db workload.Execer) error) {
		wg.Go(func() {
			db, closeDB, err := s.newWriter(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer closeDB()
			errs <- run(db)
		})
	}
	writer(func(db workload.Execer) error {
		for _, sql := range s.bulkSession {
			if err := db.Exec(ctx, sql); err != nil {
				return fmt.Errorf("%s: %w", sql, err)
			}
		}
		bw := &bulkWriter{d: s.dialect, rng: rand.New(rand.NewPCG(s.seed, 1)), n: int64(s.bulkRows)}
		bw.nextKey.Store(int64(s.bulkRows) * 3)
		return bw.run(wctx, db)
	})
	writer(func(db workload.Execer) error {
		for wctx.Err() == nil {
			if err := w.Run(wctx, db, 10); err != nil && wctx.Err() == nil {
				return err
			}
		}
		return nil
	})
	var snapshotting atomic.Bool
	snapshotting.Store(true)
	var mergesDuring, heldMerges int
	wg.Go(func() {
		for wctx.Err() == nil {
			during := snapshotting.Load()
			held, err := snapIngestMerge(wctx, l, s.cfg, t)
			if err != nil && wctx.Err() == nil {
				errs <- fmt.Errorf("ingest and merge during the snapshot: %w", err)
				return
			}
			if during && err == nil {
				mergesDuring++
				if held > 0 {
					heldMerges++
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		errs <- nil
	})

	// Throttled so that the snapshot spans several merges even when the
	// machine is idle.
	rate := int64(max(s.bulkRows/6, 5000))
	t0 := time.Now()
	rep, err := jobs.Snapshot(ctx, s.cfg, jobs.SnapshotOptions{Parallel: 3, ChunkRows: int64(max(s.bulkRows/24, 500)), MaxRowsPerSec: &rate}, e2eLogger(t))
	snapshotting.Store(false)
	if err != nil {
		stopWriters()
		wg.Wait()
		t.Fatalf("snapshot: %v", err)
	}
	t.Logf("snapshot: %d rows in %s; capture check: %s", rep.Snapshot.Rows, time.Since(t0).Round(time.Millisecond), rep.Snapshot.Sources[0].Capture.Detail)
	// Let the writers run on past the snapshot a little, then stop.
	time.Sleep(500 * time.Millisecond)
	stopWriters()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("merges during the snapshot: %d, of which %d held tables back (hold-back %v)", mergesDuring, heldMerges, snapHoldBack())
	if mergesDuring == 0 {
		t.Errorf("no merge ran during the snapshot: the test did not test merging during a snapshot")
	}
	if snapHoldBack() && heldMerges == 0 {
		t.Errorf("no merge during the snapshot held a table back")
	}

	// The first merge after the snapshot takes the whole held table at
	// once: give it the test's deadline, not ingestAndMerge's two minutes
	// (1.2M rows under SLUICE_SOAK).
	t1 := time.Now()
	if _, err := snapIngestMerge(ctx, l, s.cfg, t); err != nil {
		t.Fatalf("ingest and merge after the snapshot: %v", err)
	}
	t.Logf("ingest and merge after the snapshot: %s", time.Since(t1).Round(time.Millisecond))

	markers := newMarkerWatch(t, s.brokers, s.prefix+"."+topicSchema+"."+workload.MarkerTable)
	note := "drain-" + s.prefix
	if _, err := w.Marker(ctx, s.admin, note); err != nil {
		t.Fatal(err)
	}
	markers.wait(t, note, 2*time.Minute)
	l.ingestAndMerge(t, 1)
	compareAll(t, w, l, s.dbName, s.schema, s.dir, s.read)
	compareBulk(t, l, s.dbName, s.schema, s.dir, s.bulk, s.read(s.bulk), s.seed)
	stopCapture()
	t.Logf("seed %d: workload %+v", s.seed, w.Stats())
}

// compareSnapBulk compares snap_bulk's SCD1 table (PostgreSQL, schema
// public) with the source.
func compareSnapBulk(t *testing.T, l *lake, dbName, dir string, want rowSet, seed uint64) {
	t.Helper()
	compareBulk(t, l, dbName, "public", dir, snapBulk, want, seed)
}

// compareBulk compares a bulk table's SCD1 table with the source.
func compareBulk(t *testing.T, l *lake, dbName, schema, dir string, bulk workload.Table, want rowSet, seed uint64) {
	t.Helper()
	loc := merge.DefaultLocation(e2eTablesRoot, schemas.TableID{Database: dbName, Schema: schema, Table: bulk.Name})
	ours, _ := readLakeOurs(context.Background(), t, blob.Sub(l.store, loc), bulk)
	if d := diffRows(bulk, want, ours, 8); len(d) > 0 {
		t.Errorf("seed %d: %s: SCD1 (our reader, %d rows) differs from source (%d rows):\n  %s", seed, bulk.Name, len(ours), len(want), strings.Join(d, "\n  "))
	}
	duck := readLakeDuckDB(t, filepath.Join(dir, loc), bulk)
	if d := diffRows(bulk, want, duck, 8); len(d) > 0 {
		t.Errorf("seed %d: %s: SCD1 (DuckDB, %d rows) differs from source (%d rows):\n  %s", seed, bulk.Name, len(duck), len(want), strings.Join(d, "\n  "))
	}
	if !t.Failed() {
		t.Logf("%s: %d rows equal in source and lake", bulk.Name, len(want))
	}
}

// bulkWriter updates (never the big column, so PostgreSQL sends it as
// unchanged TOAST and a MariaDB minimal image leaves it out), deletes,
// upserts and moves to a new primary key random bulk-table rows, alone or
// a few per transaction.
type bulkWriter struct {
	d       workload.Dialect
	rng     *rand.Rand
	n       int64        // preloaded rows; ids picked from 1..n+n/20
	nextKey atomic.Int64 // new keys of key changes, beyond every picked id
}

func (b *bulkWriter) stmt() string {
	id := 1 + b.rng.Int64N(b.n+b.n/20)
	switch b.rng.IntN(12) {
	case 0, 1:
		return fmt.Sprintf(`DELETE FROM snap_bulk WHERE id = %d`, id)
	case 2, 3:
		if b.d == workload.MariaDB {
			return fmt.Sprintf(`INSERT INTO snap_bulk (id, v, w, amount, ts) VALUES (%d, %d, 'ins %d', %d.25, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE v = VALUES(v), w = VALUES(w)`,
				id, b.rng.Int64(), b.rng.IntN(1000), b.rng.IntN(10000))
		}
		return fmt.Sprintf(`INSERT INTO snap_bulk (id, v, w, amount, ts) VALUES (%d, %d, 'ins %d', %d.25, now()) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, w = EXCLUDED.w`,
			id, b.rng.Int64(), b.rng.IntN(1000), b.rng.IntN(10000))
	case 4, 5:
		return fmt.Sprintf(`UPDATE snap_bulk SET id = %d, v = v + 1 WHERE id = %d`, b.nextKey.Add(1), id)
	default:
		return fmt.Sprintf(`UPDATE snap_bulk SET v = v + 1, w = 'upd %d', amount = %d.5 WHERE id = %d`, b.rng.Int64(), b.rng.IntN(10000), id)
	}
}

func (b *bulkWriter) run(ctx context.Context, db workload.Execer) error {
	for ctx.Err() == nil {
		k := 1
		if b.rng.IntN(4) == 0 {
			k = 2 + b.rng.IntN(4)
		}
		sqls := make([]string, 0, k+2)
		for range k {
			sqls = append(sqls, b.stmt())
		}
		if k > 1 {
			sqls = append(append([]string{"BEGIN"}, sqls...), "COMMIT")
		}
		for _, sql := range sqls {
			if err := db.Exec(ctx, sql); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("%s: %w", sql, err)
			}
		}
	}
	return nil
}

// snapIngestMerge is one ingest and one merge, as a user's cron runs them
// during a snapshot; it returns how many tables the merge held back.
// Errors are returned (it runs off the test goroutine). The merge is
// jobs.Merge, which holds back tables whose snapshot is in progress, or
// with SLUICE_SNAPSHOT_NO_HOLDBACK=1 merge.Run without that, which loses
// unchanged-TOAST / minimal-image columns: an update of a row whose
// snapshot chunk has not committed yet is merged first and finds no old
// row to take the left-out columns from; the chunk's row arrives later
// with an older ordering key and is skipped as stale.
func snapIngestMerge(ctx context.Context, l *lake, cfg *jobs.Config, t *testing.T) (int, error) {
	_, err := ingest.Run(ctx, ingest.Config{
		Brokers: l.brokers, TopicRegex: l.topicRegex, GroupID: l.groupID,
		MaxDeadLetterRatio: 0, ReadTimeout: 30 * time.Second,
	}, l.raw, l.dead, e2eLogger(t))
	if err != nil {
		return 0, fmt.Errorf("ingest: %w", err)
	}
	if !snapHoldBack() {
		if _, err := merge.Run(ctx, l.raw, l.store, merge.Config{TablesRoot: e2eTablesRoot}, e2eLogger(t)); err != nil {
			return 0, fmt.Errorf("merge: %w", err)
		}
		return 0, nil
	}
	rep, err := jobs.Merge(ctx, cfg, nil, e2eLogger(t))
	if err != nil {
		return 0, err
	}
	if rep.Merge == nil {
		return 0, nil
	}
	return len(rep.Merge.HeldBack), nil
}
