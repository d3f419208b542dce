package faultblob

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
)

var _ blob.Store = (*Store)(nil)

// Op names a Store method.
type Op uint8

// The operations a Rule can select.
const (
	OpGet Op = iota + 1
	OpPut
	OpPutIfAbsent
	OpList
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpPutIfAbsent:
		return "put if absent"
	case OpList:
		return "list"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Rule selects calls and says which faults to inject into them.
type Rule struct {
	Ops       []Op   // operations it applies to; empty means all
	KeyPrefix string // keys (List: prefixes) it applies to; empty means all

	FailBefore float64       // probability of failing without performing the call
	FailAfter  float64       // probability of performing the call, then failing
	MaxLatency time.Duration // upper bound of a random delay before the call
}

func (r *Rule) matches(op Op, key string) bool {
	return (len(r.Ops) == 0 || slices.Contains(r.Ops, op)) && strings.HasPrefix(key, r.KeyPrefix)
}

// Error is an injected failure. It reports itself transient, like an S3 503.
type Error struct {
	Op    Op
	Key   string
	After bool // the call was performed before the error was returned
}

func (e *Error) Error() string {
	when := "before"
	if e.After {
		when = "after"
	}
	return fmt.Sprintf("faultblob: injected 503 Service Unavailable %s %s %q", when, e.Op, e.Key)
}

// Transient reports true: retrying may succeed (see blob.IsTransient).
func (e *Error) Transient() bool { return true }

// Stats counts injected faults.
type Stats struct {
	Before, After int
}

// Store wraps a blob.Store with fault injection.
type Store struct {
	inner blob.Store

	mu    sync.Mutex // guards rng, rules, stats
	rng   *rand.Rand
	rules []Rule
	stats Stats
}

// New wraps inner. rng (for example rand.New(rand.NewPCG(seed, 0))) drives
// every random choice; rules are matched in order.
func New(inner blob.Store, rng *rand.Rand, rules ...Rule) *Store {
	return &Store{inner: inner, rng: rng, rules: slices.Clone(rules)}
}

// SetRules replaces the rules; calls already past their decision keep it.
func (s *Store) SetRules(rules ...Rule) {
	s.mu.Lock()
	s.rules = slices.Clone(rules)
	s.mu.Unlock()
}

// Stats returns the number of faults injected so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

type fault uint8

const (
	none fault = iota
	before
	after
)

// decision is what happens to one call.
type decision struct {
	fault fault
	delay time.Duration
	cut   int // List: objects yielded before an "after" error
}

func (s *Store) decide(op Op, key string) decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rules {
		r := &s.rules[i]
		if !r.matches(op, key) {
			continue
		}
		var d decision
		if r.MaxLatency > 0 {
			d.delay = time.Duration(s.rng.Int64N(int64(r.MaxLatency)))
		}
		switch p := s.rng.Float64(); {
		case p < r.FailBefore:
			d.fault = before
			s.stats.Before++
		case p < r.FailBefore+r.FailAfter:
			d.fault = after
			d.cut = s.rng.IntN(8)
			s.stats.After++
		}
		return d
	}
	return decision{}
}

// enter applies the decision's delay and before-fault.
func (s *Store) enter(ctx context.Context, op Op, key string) (decision, error) {
	d := s.decide(op, key)
	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return d, fmt.Errorf("%s %q: %w", op, key, ctx.Err())
		case <-t.C:
		}
	}
	if d.fault == before {
		return d, &Error{Op: op, Key: key}
	}
	return d, nil
}

// exit returns the after-fault if one was decided and the call succeeded.
func exit(d decision, op Op, key string, err error) error {
	if err == nil && d.fault == after {
		return &Error{Op: op, Key: key, After: true}
	}
	return err
}

// Get reads from the wrapped store, possibly failing before or after.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	d, err := s.enter(ctx, OpGet, key)
	if err != nil {
		return nil, err
	}
	rc, err := s.inner.Get(ctx, key)
	if err == nil && d.fault == after {
		rc.Close()
		return nil, exit(d, OpGet, key, nil)
	}
	return rc, err
}

// Put writes to the wrapped store, possibly failing before or after.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	d, err := s.enter(ctx, OpPut, key)
	if err != nil {
		return err
	}
	return exit(d, OpPut, key, s.inner.Put(ctx, key, data))
}

// PutIfAbsent writes to the wrapped store, possibly failing before or
// after; an after-fault means the object was stored.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	d, err := s.enter(ctx, OpPutIfAbsent, key)
	if err != nil {
		return err
	}
	return exit(d, OpPutIfAbsent, key, s.inner.PutIfAbsent(ctx, key, data))
}

// Delete deletes in the wrapped store, possibly failing before or after.
func (s *Store) Delete(ctx context.Context, key string) error {
	d, err := s.enter(ctx, OpDelete, key)
	if err != nil {
		return err
	}
	return exit(d, OpDelete, key, s.inner.Delete(ctx, key))
}

// List lists the wrapped store. A before-fault yields only an error; an
// after-fault yields an error after a random number (0-7) of objects, or at
// the end of a shorter listing.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		d, err := s.enter(ctx, OpList, prefix)
		if err != nil {
			yield(blob.Object{}, err)
			return
		}
		n := 0
		for o, err := range s.inner.List(ctx, prefix) {
			if err == nil && d.fault == after && n == d.cut {
				break
			}
			if !yield(o, err) || err != nil {
				return
			}
			n++
		}
		if d.fault == after {
			yield(blob.Object{}, &Error{Op: OpList, Key: prefix, After: true})
		}
	}
}
