package faultblob_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/blobtest"
	"github.com/sluicehq/sluice/lakelog/blob/faultblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

// With no rules the wrapper is transparent and must pass the suite.
func TestConformanceNoFaults(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return faultblob.New(memblob.New(), rand.New(rand.NewPCG(1, 2)))
	})
}

func TestFailBeforeDoesNotWrite(t *testing.T) {
	inner := memblob.New()
	s := faultblob.New(inner, rand.New(rand.NewPCG(1, 2)), faultblob.Rule{FailBefore: 1})
	err := s.PutIfAbsent(t.Context(), "k", []byte("v"))
	if !blob.IsTransient(err) {
		t.Fatalf("PutIfAbsent = %v, want a transient error", err)
	}
	if _, err := inner.Get(t.Context(), "k"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("inner Get after a before-fault = %v, want ErrNotExist", err)
	}
}

// The ambiguous failure: the write happened, the caller saw an error.
func TestFailAfterWrites(t *testing.T) {
	inner := memblob.New()
	s := faultblob.New(inner, rand.New(rand.NewPCG(1, 2)), faultblob.Rule{
		Ops: []faultblob.Op{faultblob.OpPutIfAbsent}, KeyPrefix: "_delta_log/", FailAfter: 1,
	})
	ctx := t.Context()
	err := s.PutIfAbsent(ctx, "_delta_log/00000000000000000000.json", []byte("v0"))
	var fe *faultblob.Error
	if !errors.As(err, &fe) || !fe.After || !blob.IsTransient(err) {
		t.Fatalf("PutIfAbsent = %v, want a transient after-fault", err)
	}
	if errors.Is(err, blob.ErrExist) || errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("injected error %v wraps a blob sentinel", err)
	}
	rc, err := inner.Get(ctx, "_delta_log/00000000000000000000.json")
	if err != nil {
		t.Fatalf("inner Get after an after-fault: %v", err)
	}
	got, _ := io.ReadAll(rc)
	if string(got) != "v0" {
		t.Fatalf("stored %q, want %q", got, "v0")
	}
	// Other operations and keys are not affected by the rule.
	if err := s.PutIfAbsent(ctx, "data/part-0.parquet", []byte("x")); err != nil {
		t.Fatalf("PutIfAbsent outside the rule's prefix: %v", err)
	}
	if err := s.Put(ctx, "_delta_log/_last_checkpoint", []byte("x")); err != nil {
		t.Fatalf("Put, not selected by the rule: %v", err)
	}
	if got, want := s.Stats(), (faultblob.Stats{After: 1}); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
	s.SetRules()
	if err := s.PutIfAbsent(ctx, "_delta_log/00000000000000000001.json", []byte("v1")); err != nil {
		t.Fatalf("PutIfAbsent after SetRules(): %v", err)
	}
}

func TestListAfterFaultEndsWithError(t *testing.T) {
	inner := memblob.New()
	for _, k := range []string{"a", "b", "c"} {
		if err := inner.Put(t.Context(), k, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := faultblob.New(inner, rand.New(rand.NewPCG(3, 4)), faultblob.Rule{Ops: []faultblob.Op{faultblob.OpList}, FailAfter: 1})
	n, sawErr := 0, false
	for _, err := range s.List(t.Context(), "") {
		if err != nil {
			sawErr = blob.IsTransient(err)
			break
		}
		n++
	}
	if !sawErr || n > 3 {
		t.Fatalf("List yielded %d objects and transient error %v; want at most 3 then a transient error", n, sawErr)
	}
}

// The same seed and call sequence inject the same faults.
func TestSeededReplay(t *testing.T) {
	run := func() []bool {
		s := faultblob.New(memblob.New(), rand.New(rand.NewPCG(42, 7)), faultblob.Rule{FailBefore: 0.3, FailAfter: 0.3})
		var out []bool
		for range 50 {
			out = append(out, s.Put(t.Context(), "k", nil) != nil)
		}
		return out
	}
	a, b := run(), run()
	failures := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: runs with the same seed differ", i)
		}
		if a[i] {
			failures++
		}
	}
	if failures == 0 || failures == len(a) {
		t.Fatalf("%d of %d calls failed with p=0.6; want some but not all", failures, len(a))
	}
}
