package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

var errRecheckFailed = errors.New("recheck failed (test)")

// recheckChunkSource is chunkSource as a snapshot.Rechecker whose
// ReadChanged fails when fail is set.
type recheckChunkSource struct {
	chunkSource
	fail  bool
	views uint64
}

func (s *recheckChunkSource) RecheckMark(context.Context) (string, error) { return "100", nil }
func (s *recheckChunkSource) OpenView(context.Context) (snapshot.View, error) {
	s.views++ // each view at its own position, so that the chunks span several
	return &recheckChunkView{chunkView{&s.chunkSource}, s, 1000 * s.views}, nil
}

type recheckChunkView struct {
	chunkView
	s   *recheckChunkSource
	lsn uint64
}

func (v *recheckChunkView) Position() schemas.Source {
	return schemas.Source{Connector: schemas.ConnectorPostgres, Version: "test", CommitLSN: v.lsn, TsMs: 1}
}

func (v *recheckChunkView) ReadChanged(context.Context, *snapshot.Table, string, func([]any) error) error {
	if v.s.fail {
		return errRecheckFailed
	}
	return nil
}

// A snapshot whose key-range chunks are all committed but whose recheck
// pass is not is still in progress (3 of 4 chunks); the rerun's recheck
// releases it.
func TestHoldBackWaitsForRecheck(t *testing.T) {
	ctx := context.Background()
	_, lk, _ := holdBackLake(t)
	sc := snapshot.Config{SnapshotID: "initial", TopicPrefix: "app", ChunkRows: 10, ViewMaxAge: 1}
	src := &recheckChunkSource{chunkSource: chunkSource{failChunk: -1}, fail: true}
	if _, err := snapshot.Run(ctx, src, lk.raw, sc, nil, nil); !errors.Is(err, errRecheckFailed) {
		t.Fatalf("first run: err %v, want the recheck failure", err)
	}
	snap, err := lk.raw.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held, err := SnapshotsInProgress(ctx, lk.raw.Store(), snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0].ChunksDone != 3 || held[0].ChunksTotal != 4 {
		t.Fatalf("held %+v, want app.public.t 3/4", held)
	}
	src.fail = false
	if _, err := snapshot.Run(ctx, src, lk.raw, sc, nil, nil); err != nil {
		t.Fatal(err)
	}
	if snap, err = lk.raw.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if held, err = SnapshotsInProgress(ctx, lk.raw.Store(), snap); err != nil || len(held) != 0 {
		t.Fatalf("after the rerun: held %+v (err %v), want none", held, err)
	}
}
