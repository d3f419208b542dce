package snapshot

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// fakeView counts its concurrent readers.
type fakeView struct {
	id     int
	closed bool
}

func (v *fakeView) Position() schemas.Source { return schemas.Source{Pos: uint64(v.id)} }
func (v *fakeView) ReadChunk(context.Context, *Table, Chunk, func([]any) error) error {
	return nil
}
func (v *fakeView) Close() error { v.closed = true; return nil }

type fakeSource struct {
	mu    sync.Mutex
	views []*fakeView
}

func (s *fakeSource) Connector() string                                        { return schemas.ConnectorMariaDB }
func (s *fakeSource) Tables(context.Context) ([]*Table, error)                 { return nil, nil }
func (s *fakeSource) Boundaries(context.Context, *Table, int) ([]Bound, error) { return nil, nil }
func (s *fakeSource) OpenView(context.Context) (View, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &fakeView{id: len(s.views)}
	s.views = append(s.views, v)
	return v, nil
}

type exclusiveSource struct{ fakeSource }

func (s *exclusiveSource) ExclusiveViews() {}

// A shared source gives concurrent chunks one view; an ExclusiveViewer
// gives each its own, reuses idle ones, and replaces them after maxAge.
func TestViewPoolExclusive(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	log := slog.New(slog.DiscardHandler)

	shared := &fakeSource{}
	p := &viewPool{src: shared, maxAge: time.Minute, now: clock, log: log}
	a, _ := p.acquire(ctx)
	b, _ := p.acquire(ctx)
	if a != b || len(shared.views) != 1 {
		t.Errorf("shared source: %d views for two concurrent chunks, want 1 shared", len(shared.views))
	}

	ex := &exclusiveSource{}
	p = &viewPool{src: ex, maxAge: time.Minute, now: clock, log: log}
	a, _ = p.acquire(ctx)
	b, _ = p.acquire(ctx)
	if a == b || len(ex.views) != 2 {
		t.Fatalf("exclusive source: %d views for two concurrent chunks, want 2 distinct", len(ex.views))
	}
	p.release(a)
	c, _ := p.acquire(ctx)
	if c != a || len(ex.views) != 2 {
		t.Errorf("exclusive source: an idle view was not reused (%d views)", len(ex.views))
	}
	now = now.Add(2 * time.Minute)
	p.release(c)
	if !ex.views[0].closed {
		t.Error("a view older than maxAge stayed open after its chunk")
	}
	d, _ := p.acquire(ctx)
	if d == a || len(ex.views) != 3 {
		t.Errorf("after maxAge: got an old view (%d views), want a new one", len(ex.views))
	}
	p.release(b)
	p.release(d)
	p.closeAll()
	for _, v := range ex.views {
		if !v.closed {
			t.Errorf("view %d open after closeAll", v.id)
		}
	}
}
