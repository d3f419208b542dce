package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// chunkSource is a snapshot.Source of one table app.public.t with keys
// 1..30 in three chunks (≤10, ≤20, rest); reading chunk failChunk fails.
type chunkSource struct{ failChunk int }

var errChunkFailed = errors.New("chunk read failed (test)")

func (s *chunkSource) Connector() string { return schemas.ConnectorPostgres }
func (s *chunkSource) Tables(context.Context) ([]*snapshot.Table, error) {
	return []*snapshot.Table{{
		ID:            schemas.TableID{Database: "app", Schema: "public", Table: "t"},
		Columns:       []schemas.Column{{Name: "id", Type: schemas.Int64}, {Name: "v", Type: schemas.String, Optional: true}},
		Key:           []string{"id"},
		EstimatedRows: 30,
	}}, nil
}
func (s *chunkSource) Boundaries(context.Context, *snapshot.Table, int) ([]snapshot.Bound, error) {
	return []snapshot.Bound{{"10"}, {"20"}}, nil
}
func (s *chunkSource) OpenView(context.Context) (snapshot.View, error) { return &chunkView{s}, nil }

type chunkView struct{ s *chunkSource }

func (v *chunkView) Position() schemas.Source {
	return schemas.Source{Connector: schemas.ConnectorPostgres, Version: "test", CommitLSN: 1000, TsMs: 1}
}
func (v *chunkView) Close() error { return nil }
func (v *chunkView) ReadChunk(_ context.Context, _ *snapshot.Table, c snapshot.Chunk, emit func([]any) error) error {
	if c.Index == v.s.failChunk {
		return errChunkFailed
	}
	lo, hi := int64(0), int64(30)
	if c.Lo != nil {
		lo, _ = strconv.ParseInt(c.Lo[0], 10, 64)
	}
	if c.Hi != nil {
		hi, _ = strconv.ParseInt(c.Hi[0], 10, 64)
	}
	for id := lo + 1; id <= hi; id++ {
		if err := emit([]any{id, "row " + strconv.FormatInt(id, 10)}); err != nil {
			return err
		}
	}
	return nil
}

// holdBackLake is a config whose warehouse is a fresh directory, its
// opened lake, and the directory.
func holdBackLake(t *testing.T) (*Config, *lake, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := ParseConfig([]byte("warehouse: "+dir+"\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	lk, err := openLake(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, lk, dir
}

// TestMergeHoldsBackSnapshotInProgress: while a snapshot of a table has
// uncommitted chunks, merge leaves the table alone and says so in the
// report and the status; once the rerun commits the rest, the table is
// merged with every row. A released snapshot no longer holds.
func TestMergeHoldsBackSnapshotInProgress(t *testing.T) {
	ctx := context.Background()
	cfg, lk, _ := holdBackLake(t)
	logger := slog.New(slog.DiscardHandler)
	sc := snapshot.Config{SnapshotID: "initial", TopicPrefix: "app", ChunkRows: 10}
	src := &chunkSource{failChunk: 2}
	if _, err := snapshot.Run(ctx, src, lk.raw, sc, nil, logger); !errors.Is(err, errChunkFailed) {
		t.Fatalf("first snapshot run: err = %v, want the chunk failure", err)
	}

	rep, err := Merge(ctx, cfg, nil, logger)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	if got := len(rep.Merge.HeldBack); got != 1 {
		t.Fatalf("merge held back %d tables, want 1: %+v", got, rep.Merge.HeldBack)
	}
	h := rep.Merge.HeldBack[0]
	if h.Table != "app.public.t" || h.SnapshotID != "initial" || h.ChunksDone != 2 || h.ChunksTotal != 3 || h.Reason != "snapshot in progress" {
		t.Errorf("held = %+v, want app.public.t initial 2/3 snapshot in progress", h)
	}
	if len(rep.Merge.Tables) != 0 {
		t.Errorf("merge merged %+v while the snapshot is in progress, want nothing", rep.Merge.Tables)
	}
	loc := blob.Sub(lk.warehouse, merge.DefaultLocation(cfg.Merge.TablesRoot, schemas.TableID{Database: "app", Schema: "public", Table: "t"}))
	if _, err := lakelog.Open(loc, lakelog.Options{}).Snapshot(ctx); !errors.Is(err, lakelog.ErrNoTable) {
		t.Errorf("SCD1 table after a held merge: err = %v, want no table", err)
	}

	st, err := GetStatus(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	var ts *TableStatus
	for i := range st.Tables {
		if st.Tables[i].Table == "app.public.t" {
			ts = &st.Tables[i]
		}
	}
	if ts == nil || ts.HeldBack != "snapshot in progress" {
		t.Errorf("status tables = %+v, want app.public.t held back (snapshot in progress)", st.Tables)
	}
	var text bytes.Buffer
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "HELD BACK (snapshot in progress)") || !strings.Contains(text.String(), "2/3") {
		t.Errorf("status text has no held-back line:\n%s", text.String())
	}

	// The rerun commits the last chunk: the merge takes all 30 rows.
	src.failChunk = -1
	if _, err := snapshot.Run(ctx, src, lk.raw, sc, nil, logger); err != nil {
		t.Fatalf("snapshot rerun: %v", err)
	}
	rep, err = Merge(ctx, cfg, nil, logger)
	if err != nil {
		t.Fatalf("merge after the snapshot: %v", err)
	}
	if len(rep.Merge.HeldBack) != 0 {
		t.Errorf("held back after the snapshot finished: %+v", rep.Merge.HeldBack)
	}
	if len(rep.Merge.Tables) != 1 || rep.Merge.Tables[0].RowsInserted != 30 {
		t.Errorf("merge tables = %+v, want app.public.t with 30 rows inserted", rep.Merge.Tables)
	}
}

// TestSnapshotsInProgressReleased: a <table>.released object beside the
// plan ends the hold of an abandoned snapshot; an unreadable plan is an
// error, not a silent release.
func TestSnapshotsInProgressReleased(t *testing.T) {
	ctx := context.Background()
	_, lk, dir := holdBackLake(t)
	logger := slog.New(slog.DiscardHandler)
	sc := snapshot.Config{SnapshotID: "bf1", TopicPrefix: "app", ChunkRows: 10}
	if _, err := snapshot.Run(ctx, &chunkSource{failChunk: 0}, lk.raw, sc, nil, logger); !errors.Is(err, errChunkFailed) {
		t.Fatalf("snapshot: err = %v, want the chunk failure", err)
	}
	held := func() []HeldTable {
		t.Helper()
		s, err := lk.raw.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h, err := SnapshotsInProgress(ctx, lk.raw.Store(), s)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := held(); len(h) != 1 || h[0].ChunksDone != 0 || h[0].PlanKey != "_sluice_snapshot/bf1/app.public.t.json" {
		t.Fatalf("held = %+v, want app.public.t 0/3 with its plan key", h)
	}
	marker := filepath.Join(dir, "raw/cdc/_sluice_snapshot/bf1/app.public.t.released")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if h := held(); len(h) != 0 {
		t.Errorf("held after release = %+v, want none", h)
	}
	if err := os.MkdirAll(filepath.Join(dir, "raw/cdc/_sluice_snapshot/bf2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "raw/cdc/_sluice_snapshot/bf2/app.public.t.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := lk.raw.Snapshot(ctx)
	if _, err := SnapshotsInProgress(ctx, lk.raw.Store(), s); err == nil || !strings.Contains(err.Error(), "bf2/app.public.t.json") {
		t.Errorf("corrupt plan: err = %v, want an error naming it", err)
	}
}
