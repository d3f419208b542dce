package blob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"_delta_log/00000000000000000000.json", true},
		{"date=2024-01-01/part 0%20.parquet", true},
		{"ünï/日本", true},
		{".hidden", true},
		{"a/..b/c..", true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"a/./b", false},
		{"a/../b", false},
		{"../a", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		err := blob.ValidateKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "a", "a/", "a/b", "_delta_log/0000", ".", "a/."} {
		if err := blob.ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"/", "/a", "../a", "a//b", "a/../", "x\x00"} {
		if err := blob.ValidatePrefix(p); err == nil {
			t.Errorf("ValidatePrefix(%q) = nil, want an error", p)
		}
	}
}

// basicStore hides memblob's optional capabilities.
type basicStore struct{ s *memblob.Store }

func (b basicStore) Get(ctx context.Context, k string) (io.ReadCloser, error) { return b.s.Get(ctx, k) }
func (b basicStore) Put(ctx context.Context, k string, d []byte) error        { return b.s.Put(ctx, k, d) }
func (b basicStore) PutIfAbsent(ctx context.Context, k string, d []byte) error {
	return b.s.PutIfAbsent(ctx, k, d)
}
func (b basicStore) Delete(ctx context.Context, k string) error { return b.s.Delete(ctx, k) }
func (b basicStore) List(ctx context.Context, p string) iter.Seq2[blob.Object, error] {
	return b.s.List(ctx, p)
}

func TestSubForwardsCapabilities(t *testing.T) {
	full := blob.Sub(memblob.New(), "p")
	if _, ok := full.(blob.Stat); !ok {
		t.Error("Sub(memblob) does not implement Stat")
	}
	if _, ok := full.(blob.ListFrom); !ok {
		t.Error("Sub(memblob) does not implement ListFrom")
	}
	basic := blob.Sub(basicStore{memblob.New()}, "p")
	if _, ok := basic.(blob.Stat); ok {
		t.Error("Sub of a store without Stat implements Stat")
	}
	if _, ok := basic.(blob.ListFrom); ok {
		t.Error("Sub of a store without ListFrom implements ListFrom")
	}
	if got := blob.Sub(basicStore{}, ""); got != (basicStore{}) {
		t.Errorf("Sub(s, \"\") = %v, want s itself", got)
	}
}

type transient struct{}

func (transient) Error() string   { return "503" }
func (transient) Transient() bool { return true }

func TestIsTransient(t *testing.T) {
	if !blob.IsTransient(fmt.Errorf("put x: %w", transient{})) {
		t.Error("wrapped transient error not recognised")
	}
	if blob.IsTransient(errors.New("plain")) || blob.IsTransient(nil) || blob.IsTransient(blob.ErrExist) {
		t.Error("non-transient error reported transient")
	}
}
