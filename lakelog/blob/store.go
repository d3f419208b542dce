package blob

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
)

// ErrNotExist is returned (wrapped) when an object does not exist.
var ErrNotExist = errors.New("object does not exist")

// ErrExist is returned (wrapped) by PutIfAbsent when the key already exists.
var ErrExist = errors.New("object already exists")

// Object describes a stored object as List reports it.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is an object store rooted at some prefix (a directory, an S3
// bucket+prefix, a map). Every method is safe for concurrent use; ctx only
// carries cancellation.
type Store interface {
	// Get opens the object at key. It returns an error wrapping ErrNotExist
	// if there is none. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// Put stores data at key, replacing any object there. Idempotent for the
	// same data. Readers never observe a partially written object. A store
	// never keeps data (or a slice of it) after returning: callers may pass
	// memory they release right after, such as a file mapping.
	Put(ctx context.Context, key string, data []byte) error

	// PutIfAbsent stores data at key only if no object exists there; if one
	// does it returns an error wrapping ErrExist and changes nothing.
	// Atomic under concurrency: exactly one of N racing callers succeeds.
	PutIfAbsent(ctx context.Context, key string, data []byte) error

	// List yields the objects whose key starts with prefix, in ascending
	// lexical key order. An empty result is not an error.
	List(ctx context.Context, prefix string) iter.Seq2[Object, error]

	// Delete removes the object at key. Deleting a missing key is not an
	// error (idempotent).
	Delete(ctx context.Context, key string) error
}

// ListFrom is an optional capability: listing keys >= start within prefix
// without walking earlier keys (S3 StartAfter). Callers fall back to List.
type ListFrom interface {
	ListFrom(ctx context.Context, prefix, start string) iter.Seq2[Object, error]
}

// Stat is an optional capability returning one object's metadata; it returns
// an error wrapping ErrNotExist if there is none.
type Stat interface {
	Stat(ctx context.Context, key string) (Object, error)
}
