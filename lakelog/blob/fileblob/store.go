package fileblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/lakelog/blob"
)

var (
	_ blob.Store    = (*Store)(nil)
	_ blob.Stat     = (*Store)(nil)
	_ blob.ListFrom = (*Store)(nil)
)

// tempPrefix starts the name of every temp file; List skips such names and
// keys may not contain a segment starting with it.
const tempPrefix = ".sluice-tmp-"

// Store is a blob.Store over a local directory. It is safe for concurrent
// use by goroutines and by processes sharing the directory.
type Store struct {
	root string
}

// New returns a Store rooted at dir, creating the directory if needed.
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fileblob root %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("fileblob root: %w", err)
	}
	return &Store{root: abs}, nil
}

// Root returns the absolute directory the store is rooted at.
func (s *Store) Root() string { return s.root }

// path validates key and returns its file path.
func (s *Store) path(key string) (string, error) {
	if err := blob.ValidateKey(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, tempPrefix) {
			return "", fmt.Errorf("invalid key %q: segment %q uses the reserved temp prefix %q", key, seg, tempPrefix)
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Get opens the file at key. It returns an error wrapping blob.ErrNotExist
// if there is none (or if key names a directory).
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, notExist(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("get %q: not a regular file: %w", key, blob.ErrNotExist)
	}
	return f, nil
}

// Stat returns the metadata of the object at key, or an error wrapping
// blob.ErrNotExist.
func (s *Store) Stat(ctx context.Context, key string) (blob.Object, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Object{}, fmt.Errorf("stat %q: %w", key, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return blob.Object{}, fmt.Errorf("stat %q: %w", key, notExist(err))
	}
	if !fi.Mode().IsRegular() {
		return blob.Object{}, fmt.Errorf("stat %q: not a regular file: %w", key, blob.ErrNotExist)
	}
	return blob.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Put writes data to key, replacing any object there (temp file, fsync,
// rename, fsync of the directory).
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	tmp, err := writeTemp(filepath.Dir(p), data)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// PutIfAbsent writes data to key unless an object exists there, in which
// case it returns an error wrapping blob.ErrExist and changes nothing. It
// links a complete, fsynced temp file to the final name, so the check and
// the create are one atomic step in the kernel.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put if absent %q: %w", key, err)
	}
	// Fail early without writing a temp file; the link below is what
	// decides a race.
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("put if absent %q: %w", key, blob.ErrExist)
	}
	dir := filepath.Dir(p)
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return fmt.Errorf("put if absent %q: %w", key, err)
	}
	linkErr := os.Link(tmp, p)
	if err := os.Remove(tmp); err != nil && linkErr == nil {
		return fmt.Errorf("put if absent %q: remove temp: %w", key, err)
	}
	if linkErr != nil {
		if errors.Is(linkErr, fs.ErrExist) {
			return fmt.Errorf("put if absent %q: %w", key, blob.ErrExist)
		}
		return fmt.Errorf("put if absent %q: %w", key, linkErr)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put if absent %q: %w", key, err)
	}
	return nil
}

// Delete removes the file at key; a missing key is not an error. Emptied
// directories are left in place (removing them would race with writers
// creating files in them); List ignores them.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// List yields the regular files whose key starts with prefix, in ascending
// lexical key order.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Object, error] {
	return s.ListFrom(ctx, prefix, "")
}

// ListFrom is List restricted to keys >= start; subtrees that sort entirely
// before start are not read.
func (s *Store) ListFrom(ctx context.Context, prefix, start string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		if err := blob.ValidatePrefix(prefix); err != nil {
			yield(blob.Object{}, err)
			return
		}
		dir := ""
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			dir = prefix[:i+1]
		}
		w := walker{ctx: ctx, root: s.root, prefix: prefix, start: start, yield: yield}
		if err := w.walk(dir); err != nil {
			yield(blob.Object{}, fmt.Errorf("list %q: %w", prefix, err))
		}
	}
}

// walker lists one directory subtree in key order.
type walker struct {
	ctx           context.Context
	root          string
	prefix, start string
	yield         func(blob.Object, error) bool
	stopped       bool
}

// walk visits the directory whose key prefix is dir ("" or ending in "/").
// It returns nil when the directory does not exist: no objects there.
func (w *walker) walk(dir string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(w.root, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
		return nil // nothing there, or the prefix's directory part names a file
	}
	if err != nil {
		return err
	}
	// Order by the key each entry contributes: a directory's keys all start
	// with "name/", so sort it as "name/".
	type entry struct {
		sortKey string
		isDir   bool
		de      fs.DirEntry
	}
	var es []entry
	for _, de := range entries {
		name := de.Name()
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		if de.IsDir() {
			es = append(es, entry{sortKey: dir + name + "/", isDir: true, de: de})
		} else if de.Type().IsRegular() {
			es = append(es, entry{sortKey: dir + name, de: de})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })
	for _, e := range es {
		if w.stopped {
			return nil
		}
		if e.isDir {
			sub := e.sortKey
			// Skip subtrees outside the prefix or entirely before start.
			if !strings.HasPrefix(sub, w.prefix) && !strings.HasPrefix(w.prefix, sub) {
				continue
			}
			if sub < w.start && !strings.HasPrefix(w.start, sub) {
				continue
			}
			if err := w.walk(sub); err != nil {
				return err
			}
			continue
		}
		key := e.sortKey
		if !strings.HasPrefix(key, w.prefix) || key < w.start {
			continue
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		fi, err := e.de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted while listing
		}
		if err != nil {
			return err
		}
		if !w.yield(blob.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil) {
			w.stopped = true
			return nil
		}
	}
	return nil
}

// writeTemp writes data to a new fsynced temp file in dir (created if
// needed) and returns its path.
func writeTemp(dir string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncDir fsyncs a directory so that a new or renamed entry in it survives
// a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// notExist maps "no such file" and "a path component is a file" to
// blob.ErrNotExist, keeping the OS error text.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
		return fmt.Errorf("%w (%v)", blob.ErrNotExist, err)
	}
	return err
}
