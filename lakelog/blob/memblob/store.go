package memblob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
)

var (
	_ blob.Store    = (*Store)(nil)
	_ blob.Stat     = (*Store)(nil)
	_ blob.ListFrom = (*Store)(nil)
)

// Store is an in-memory blob.Store. The zero value is not usable; call New.
type Store struct {
	mu      sync.Mutex
	objects map[string]object
}

type object struct {
	data    []byte // never mutated after insertion
	modTime time.Time
}

// New returns an empty Store.
func New() *Store {
	return &Store{objects: make(map[string]object)}
}

// Get returns a reader over the object at key, or an error wrapping
// blob.ErrNotExist.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Stat returns the metadata of the object at key, or an error wrapping
// blob.ErrNotExist.
func (s *Store) Stat(ctx context.Context, key string) (blob.Object, error) {
	o, err := s.lookup(ctx, key)
	if err != nil {
		return blob.Object{}, err
	}
	return blob.Object{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

func (s *Store) lookup(ctx context.Context, key string) (object, error) {
	if err := check(ctx, key); err != nil {
		return object{}, err
	}
	s.mu.Lock()
	o, ok := s.objects[key]
	s.mu.Unlock()
	if !ok {
		return object{}, fmt.Errorf("get %q: %w", key, blob.ErrNotExist)
	}
	return o, nil
}

// Put stores a copy of data at key, replacing any object there.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	o := object{data: bytes.Clone(data), modTime: time.Now()}
	s.mu.Lock()
	s.objects[key] = o
	s.mu.Unlock()
	return nil
}

// PutIfAbsent stores a copy of data at key unless an object exists there,
// in which case it returns an error wrapping blob.ErrExist.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	o := object{data: bytes.Clone(data), modTime: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; ok {
		return fmt.Errorf("put if absent %q: %w", key, blob.ErrExist)
	}
	s.objects[key] = o
	return nil
}

// Delete removes the object at key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.objects, key)
	s.mu.Unlock()
	return nil
}

// List yields the objects whose key starts with prefix in ascending key
// order, from a snapshot taken when iteration starts.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Object, error] {
	return s.ListFrom(ctx, prefix, "")
}

// ListFrom is List restricted to keys >= start.
func (s *Store) ListFrom(ctx context.Context, prefix, start string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(blob.Object{}, fmt.Errorf("list %q: %w", prefix, err))
			return
		}
		if err := blob.ValidatePrefix(prefix); err != nil {
			yield(blob.Object{}, err)
			return
		}
		var objs []blob.Object
		s.mu.Lock()
		for k, o := range s.objects {
			if strings.HasPrefix(k, prefix) && k >= start {
				objs = append(objs, blob.Object{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
			}
		}
		s.mu.Unlock()
		slices.SortFunc(objs, func(a, b blob.Object) int { return strings.Compare(a.Key, b.Key) })
		for _, o := range objs {
			if err := ctx.Err(); err != nil {
				yield(blob.Object{}, fmt.Errorf("list %q: %w", prefix, err))
				return
			}
			if !yield(o, nil) {
				return
			}
		}
	}
}

func check(ctx context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%q: %w", key, err)
	}
	return nil
}
