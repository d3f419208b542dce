package tests

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/postgres"
	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/snapshot"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

// snapToastWindow is the table of TestE2ESnapshotPostgresToastKeyChangeWindow:
// big is stored out of line (STORAGE EXTERNAL, ~3 KB), so an UPDATE that
// leaves it alone sends it as unchanged TOAST.
var snapToastWindow = workload.Table{Name: "toast_window", Columns: []workload.Column{
	{Name: "id", SQLType: "bigint", Kind: workload.KindInt, Key: true},
	{Name: "v", SQLType: "bigint", Kind: workload.KindInt},
	{Name: "big", SQLType: "text", Kind: workload.KindText},
}}

// TestE2ESnapshotPostgresToastKeyChangeWindow: view rotation
// (view_max_age) puts the chunks of a table in several exported
// snapshots, and between them an UPDATE moves a row from the chunk read
// last (old key 210) to the chunk read first (new key 1), leaving its
// TOASTed column unchanged. No chunk's view holds the row and the key
// change carries big as unchanged TOAST; the recheck pass (docs/snapshot.md)
// re-reads the moved row in a view after every chunk's, so the SCD1 table
// still has big. SLUICE_SNAPSHOT_NO_RECHECK=1 commits the recheck without
// reading: the SCD1 table then loses big (NULL) and the test FAILS, which
// shows the window the recheck closes. SLUICE_SNAPSHOT_PARTIAL_IMAGES=always
// (one view per table) passes either way.
func TestE2ESnapshotPostgresToastKeyChangeWindow(t *testing.T) {
	brokers := testenv.Kafka(t)
	dbName, dsn := newPostgresDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// Keys 11..210: 1..10 are free for the key change to move into.
	for _, sql := range []string{
		`CREATE TABLE toast_window (id bigint PRIMARY KEY, v bigint, big text)`,
		`ALTER TABLE toast_window ALTER COLUMN big SET STORAGE EXTERNAL`,
		`INSERT INTO toast_window SELECT g, g * 7,
			(SELECT string_agg(md5(g::text || '.' || i::text), '') FROM generate_series(1, 100) i)
			FROM generate_series(11, 210) g`,
		`ANALYZE toast_window`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", short(sql), err)
		}
	}

	prefix := testenv.UniqueName("e2etoastwin")
	slot, pub := dbName+"_slot", "e2e_pub"
	dir := t.TempDir()
	partial := os.Getenv("SLUICE_SNAPSHOT_PARTIAL_IMAGES")
	if partial == "" {
		partial = "auto"
	}
	cfgText := fmt.Sprintf(`warehouse: %s
sources:
  - {name: app, type: postgres, dsn: '${SNAP_E2E_DSN}', slot: %s, publication: %s, topic_prefix: %s}
snapshot:
  view_max_age: 1ms
  partial_images: %s
`, dir, slot, pub, prefix, partial)
	cfg, err := jobs.ParseConfig([]byte(cfgText), func(k string) (string, bool) { return dsn, k == "SNAP_E2E_DSN" })
	if err != nil {
		t.Fatal(err)
	}
	src, err := postgres.New(ctx, postgres.Config{DSN: dsn, SlotName: slot, Publication: pub, Tables: []string{"public.toast_window"}, TopicPrefix: prefix}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stopCapture := runCapture(t, src, capture.Config{
		Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix,
		WithSchema: true, AutoCreateTopics: true,
	})
	defer stopCapture()
	waitSlotActive(t, conn, slot)
	markers := newMarkerWatch(t, brokers, prefix+".public.toast_window")

	tr := snapshotWithKeyChange(t, ctx, cfg, 100, func() error {
		_, err := conn.Exec(ctx, `UPDATE toast_window SET id = 1 WHERE id = 210`)
		return err
	})
	if !tr.OneView && !snapSkipRecheck() && tr.RecheckRows < 1 {
		t.Errorf("recheck re-read %d rows, want at least the moved one", tr.RecheckRows)
	}

	// Drain: a last row after the key change, awaited in Kafka.
	note := "drain-" + prefix
	if _, err := conn.Exec(ctx, `INSERT INTO toast_window VALUES (100000, 0, $1)`, note); err != nil {
		t.Fatal(err)
	}
	markers.wait(t, note, 2*time.Minute)
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := newLake(store, brokers, topicRegex(prefix, "public"))
	l.ingestAndMerge(t, 1)
	compareBulk(t, l, dbName, "public", dir, snapToastWindow, readPostgres(t, conn, snapToastWindow), 0)
}

// snapshotWithKeyChange runs jobs.Snapshot of cfg's one table with one
// worker and chunks of about chunkRows rows, and calls keyChange once,
// right after the first chunk (the lowest keys) commits and before the
// next is read. With view_max_age shorter than a chunk, every later chunk
// is read in a new view, unless the table is read in one view. It fails
// the test unless the key change ran and, for a table not read in one
// view, the chunks were read at several positions.
func snapshotWithKeyChange(t *testing.T, ctx context.Context, cfg *jobs.Config, chunkRows int64, keyChange func() error) jobs.SnapshotTableReport {
	t.Helper()
	moved := false
	progress := func(_ string, p snapshot.Progress) {
		if moved || p.ChunksDone != 1 || p.Done {
			return
		}
		moved = true
		if err := keyChange(); err != nil {
			t.Errorf("key change: %v", err)
		}
	}
	rep, err := jobs.Snapshot(ctx, cfg, jobs.SnapshotOptions{Parallel: 1, ChunkRows: chunkRows, Progress: progress, SkipRecheck: snapSkipRecheck()}, e2eLogger(t))
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	tr := rep.Snapshot.Sources[0].Tables[0]
	t.Logf("snapshot: %d chunks at positions %v (one view: %v, recheck rows: %d)", tr.Chunks, tr.Positions, tr.OneView, tr.RecheckRows)
	if !moved {
		t.Fatalf("the key change never ran: %d chunks, want several", tr.Chunks)
	}
	if !tr.OneView && len(tr.Positions) < 2 {
		t.Fatalf("chunks read at %d positions, want one per chunk: the test did not rotate views", len(tr.Positions))
	}
	return tr
}

// snapSkipRecheck: SLUICE_SNAPSHOT_NO_RECHECK=1 runs snapshots without the
// recheck pass (snapshot.Config.SkipRecheck), to show what it prevents.
func snapSkipRecheck() bool { return os.Getenv("SLUICE_SNAPSHOT_NO_RECHECK") != "" }
