package snapshot

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// ExclusiveViewer is implemented by a Source whose views read one chunk at
// a time (a MySQL/MariaDB consistent snapshot lives in one connection):
// the pool then gives each worker a view of its own instead of sharing
// one, opening at most one view per concurrent chunk. Each chunk's rows
// still carry the position of the one view they were read in, which is
// all exactness needs.
type ExclusiveViewer interface {
	Source
	// ExclusiveViews is a marker; it is never called.
	ExclusiveViews()
}

// viewPool shares one consistent view among the workers (or, for an
// ExclusiveViewer, lends each worker one idle view) and replaces it
// once it is older than maxAge, so that no single read point (and the
// xmin horizon or binlog position it pins) lives for the whole table.
// A retired view closes when its last chunk releases it. Chunks never
// span views: each chunk reads in the one view it acquired, and its rows
// carry that view's position. Tables read in one view (Config.
// PartialImages) do not use the pool: their worker opens a view of its
// own for the whole table (oneview.go).
type viewPool struct {
	src    Source
	maxAge time.Duration
	now    func() time.Time
	log    *slog.Logger

	mu   sync.Mutex
	cur  *sharedView
	all  []*sharedView
	idle []*sharedView // ExclusiveViewer: open views no chunk is reading
}

type sharedView struct {
	v       View
	opened  time.Time
	refs    int
	retired bool
	closed  bool
}

// acquire returns the current view, opening a new one when there is none
// or the current one is too old. Opening happens under the lock: the
// other workers wait for the one new view instead of opening their own.
func (p *viewPool) acquire(ctx context.Context) (*sharedView, error) {
	if _, ok := p.src.(ExclusiveViewer); ok {
		return p.acquireExclusive(ctx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && p.now().Sub(p.cur.opened) >= p.maxAge {
		p.retire(p.cur)
		p.cur = nil
	}
	if p.cur == nil {
		v, err := p.src.OpenView(ctx)
		if err != nil {
			return nil, err
		}
		p.cur = &sharedView{v: v, opened: p.now()}
		p.all = append(p.all, p.cur)
		p.log.Info("snapshot view opened", "position", v.Position())
	}
	p.cur.refs++
	return p.cur, nil
}

// acquireExclusive lends an idle view younger than maxAge, or opens a new
// one (outside the lock: the other workers need not wait for it).
func (p *viewPool) acquireExclusive(ctx context.Context) (*sharedView, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		sv := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if p.now().Sub(sv.opened) >= p.maxAge {
			sv.retired = true
			p.close(sv)
			continue
		}
		sv.refs++
		p.mu.Unlock()
		return sv, nil
	}
	p.mu.Unlock()
	v, err := p.src.OpenView(ctx)
	if err != nil {
		return nil, err
	}
	sv := &sharedView{v: v, opened: p.now(), refs: 1}
	p.mu.Lock()
	p.all = append(p.all, sv)
	p.mu.Unlock()
	p.log.Info("snapshot view opened", "position", v.Position())
	return sv, nil
}

func (p *viewPool) release(sv *sharedView) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.src.(ExclusiveViewer); ok {
		sv.refs--
		if p.now().Sub(sv.opened) >= p.maxAge || sv.closed {
			sv.retired = true
			p.close(sv)
			return
		}
		p.idle = append(p.idle, sv)
		return
	}
	sv.refs--
	if sv.retired && sv.refs == 0 {
		p.close(sv)
	}
}

// retire marks sv as taking no new chunks; the caller holds p.mu.
func (p *viewPool) retire(sv *sharedView) {
	sv.retired = true
	if sv.refs == 0 {
		p.close(sv)
	}
}

func (p *viewPool) close(sv *sharedView) {
	if sv.closed {
		return
	}
	sv.closed = true
	if err := sv.v.Close(); err != nil {
		p.log.Warn("close snapshot view", "err", err)
	}
}

func (p *viewPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sv := range p.all {
		p.close(sv)
	}
	p.cur = nil
	p.idle = nil
}
