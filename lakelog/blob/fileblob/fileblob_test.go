package fileblob_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
)

func newStore(t *testing.T) (*fileblob.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// After a race no temp file is left, and the winner's bytes are a plain
// file at the key's path.
func TestRaceLeavesNoTempFiles(t *testing.T) {
	s, dir := newStore(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	wins := make(chan string, 16)
	for i := range 16 {
		wg.Go(func() {
			<-start
			data := fmt.Sprintf("writer %d", i)
			if err := s.PutIfAbsent(t.Context(), "_delta_log/00000000000000000000.json", []byte(data)); err == nil {
				wins <- data
			}
		})
	}
	close(start)
	wg.Wait()
	close(wins)
	var winners []string
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("%d winners, want 1", len(winners))
	}
	got, err := os.ReadFile(filepath.Join(dir, "_delta_log", "00000000000000000000.json"))
	if err != nil || string(got) != winners[0] {
		t.Fatalf("file = %q, %v; want %q", got, err, winners[0])
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".sluice-tmp-") {
			t.Errorf("temp file left behind: %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Stray temp files (a crash between write and link) are not objects.
func TestListSkipsTempFiles(t *testing.T) {
	s, dir := newStore(t)
	if err := os.WriteFile(filepath.Join(dir, ".sluice-tmp-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for o, err := range s.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
	if len(keys) != 1 || keys[0] != "k" {
		t.Fatalf("List = %q, want [k]", keys)
	}
	if err := s.Put(t.Context(), "a/.sluice-tmp-x", []byte("v")); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("Put with a temp-prefixed segment = %v, want a reserved-prefix error", err)
	}
}

// A key cannot be both an object and a directory on disk: the write fails
// with an error naming the key, and reads of the impossible key are
// ErrNotExist.
func TestObjectDirectoryConflict(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.Put(ctx, "a", []byte("file")); err != nil {
		t.Fatal(err)
	}
	err := s.PutIfAbsent(ctx, "a/b", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), `"a/b"`) || errors.Is(err, blob.ErrExist) {
		t.Fatalf("PutIfAbsent(a/b) under file a = %v, want an error naming the key", err)
	}
	if _, err := s.Get(ctx, "a/b"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Get(a/b) = %v, want ErrNotExist", err)
	}
	for o, err := range s.List(ctx, "a/") {
		t.Fatalf("List(a/) under file a yielded %v, %v; want nothing", o, err)
	}
	if err := s.Put(ctx, "d/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "d"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Get of a directory = %v, want ErrNotExist", err)
	}
	if err := s.Delete(ctx, "d"); err != nil {
		t.Fatalf("Delete of a directory = %v, want nil (no object there)", err)
	}
}

// Put replaces through a rename, PutIfAbsent adds a hard link; both leave
// one regular file with one link.
func TestFilesAreSingleLinked(t *testing.T) {
	s, dir := newStore(t)
	if err := s.PutIfAbsent(t.Context(), "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if n := nlink(fi); n != 1 {
		t.Fatalf("link count = %d, want 1 (temp link removed)", n)
	}
}
