package blob

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
)

// Sub returns a view of s under prefix (for example "tables/orders/"): key k
// in the view is key prefix+k in s, and List yields keys with the prefix
// removed. A prefix without a trailing slash gets one, so views never
// overlap by accident ("a" does not see "ab/x"). An empty prefix returns s.
//
// The view implements Stat and ListFrom exactly when s does, so callers'
// capability checks see the underlying store's capabilities. A Sub of a Sub
// collapses into one view of the innermost store.
//
// If prefix is not a valid key after trimming the trailing slash, every
// method of the returned view fails with an error naming the prefix.
func Sub(s Store, prefix string) Store {
	if prefix == "" {
		return s
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if err := ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return brokenStore{fmt.Errorf("sub view: %w", err)}
	}
	if v, ok := s.(interface{ subView() *subStore }); ok {
		inner := v.subView()
		s, prefix = inner.s, inner.prefix+prefix
	}
	base := &subStore{s: s, prefix: prefix}
	_, hasStat := s.(Stat)
	_, hasListFrom := s.(ListFrom)
	switch {
	case hasStat && hasListFrom:
		return subStatListFrom{base}
	case hasStat:
		return subStat{base}
	case hasListFrom:
		return subListFrom{base}
	default:
		return base
	}
}

// subStore is the Store part of a Sub view; the wrapper types below add the
// optional capabilities.
type subStore struct {
	s      Store
	prefix string // non-empty, ends with "/"
}

func (v *subStore) subView() *subStore { return v }

func (v *subStore) key(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return v.prefix + key, nil
}

func (v *subStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	full, err := v.key(key)
	if err != nil {
		return nil, err
	}
	return v.s.Get(ctx, full)
}

func (v *subStore) Put(ctx context.Context, key string, data []byte) error {
	full, err := v.key(key)
	if err != nil {
		return err
	}
	return v.s.Put(ctx, full, data)
}

func (v *subStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	full, err := v.key(key)
	if err != nil {
		return err
	}
	return v.s.PutIfAbsent(ctx, full, data)
}

func (v *subStore) Delete(ctx context.Context, key string) error {
	full, err := v.key(key)
	if err != nil {
		return err
	}
	return v.s.Delete(ctx, full)
}

func (v *subStore) List(ctx context.Context, prefix string) iter.Seq2[Object, error] {
	if err := ValidatePrefix(prefix); err != nil {
		return errSeq(err)
	}
	return v.strip(v.s.List(ctx, v.prefix+prefix))
}

func (v *subStore) listFrom(ctx context.Context, prefix, start string) iter.Seq2[Object, error] {
	if err := ValidatePrefix(prefix); err != nil {
		return errSeq(err)
	}
	return v.strip(v.s.(ListFrom).ListFrom(ctx, v.prefix+prefix, v.prefix+start))
}

func (v *subStore) stat(ctx context.Context, key string) (Object, error) {
	full, err := v.key(key)
	if err != nil {
		return Object{}, err
	}
	o, err := v.s.(Stat).Stat(ctx, full)
	if err != nil {
		return Object{}, err
	}
	o.Key = key
	return o, nil
}

func (v *subStore) strip(seq iter.Seq2[Object, error]) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		for o, err := range seq {
			if err == nil {
				o.Key = strings.TrimPrefix(o.Key, v.prefix)
			}
			if !yield(o, err) {
				return
			}
		}
	}
}

func errSeq(err error) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) { yield(Object{}, err) }
}

type subStat struct{ *subStore }

func (v subStat) Stat(ctx context.Context, key string) (Object, error) { return v.stat(ctx, key) }

type subListFrom struct{ *subStore }

func (v subListFrom) ListFrom(ctx context.Context, prefix, start string) iter.Seq2[Object, error] {
	return v.listFrom(ctx, prefix, start)
}

type subStatListFrom struct{ *subStore }

func (v subStatListFrom) Stat(ctx context.Context, key string) (Object, error) {
	return v.stat(ctx, key)
}

func (v subStatListFrom) ListFrom(ctx context.Context, prefix, start string) iter.Seq2[Object, error] {
	return v.listFrom(ctx, prefix, start)
}

// brokenStore is the view Sub returns for an invalid prefix: it fails every
// call instead of panicking.
type brokenStore struct{ err error }

func (b brokenStore) Get(context.Context, string) (io.ReadCloser, error) { return nil, b.err }
func (b brokenStore) Put(context.Context, string, []byte) error          { return b.err }
func (b brokenStore) PutIfAbsent(context.Context, string, []byte) error  { return b.err }
func (b brokenStore) Delete(context.Context, string) error               { return b.err }
func (b brokenStore) List(context.Context, string) iter.Seq2[Object, error] {
	return errSeq(b.err)
}
