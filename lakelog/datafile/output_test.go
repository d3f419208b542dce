package datafile

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
)

const noisySchema = `{"type":"struct","fields":[
	{"name":"id","type":"long","nullable":false,"metadata":{}},
	{"name":"note","type":"string","nullable":true,"metadata":{}},
	{"name":"payload","type":"binary","nullable":true,"metadata":{}}]}`

// noisyRows are n rows of ~1 KB of random hex (compressing about 2x).
func noisyRows(seed uint64, n int) [][]any {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	const hex = "0123456789abcdef"
	rows := make([][]any, n)
	for i := range rows {
		p := make([]byte, 1000)
		for j := range p {
			p[j] = hex[rng.IntN(16)]
		}
		rows[i] = []any{int64(i), fmt.Sprintf("row %d", i), p}
	}
	return rows
}

// TestTempDirBuildsTheSameFile writes the same rows in memory and through a
// temporary file, with early row group flushes in both, and checks the
// bytes are equal, read back, and that the temporary directory is empty
// while the file is built (unlinked) and after Finish and Discard.
func TestTempDirBuildsTheSameFile(t *testing.T) {
	schema := mustSchema(t, noisySchema)
	rows := noisyRows(1, 3000)
	dir := t.TempDir()
	var held [2]int64
	var flushed int64
	build := func(opts Options) []byte {
		w, err := NewWriter(schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
			if i == 1000 {
				if err := w.FlushRowGroup(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if opts.TempDir != "" {
			assertEmptyDir(t, dir)
			held[1] = w.HeldBytes()
		} else {
			held[0], flushed = w.HeldBytes(), w.out.n
		}
		data, _, err := w.FinishBytes()
		if err != nil {
			t.Fatal(err)
		}
		w.Discard() // after Finish: a no-op
		return data
	}
	mem := build(Options{})
	spilled := build(Options{TempDir: dir})
	if flushed == 0 || held[0]-held[1] < flushed {
		t.Errorf("held %d bytes in memory, %d spilling: want the %d bytes flushed to the file not counted when spilled", held[0], held[1], flushed)
	}
	if !bytes.Equal(mem, spilled) {
		t.Fatalf("file built in %s (%d bytes) differs from the one built in memory (%d bytes)", dir, len(spilled), len(mem))
	}
	got, err := ReadBytes("f", spilled, schema)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for row, ok := got.Next(); ok; row, ok = got.Next() {
		if row[0].(int64) != int64(n) || !bytes.Equal(row[2].([]byte), rows[n][2].([]byte)) {
			t.Fatalf("row %d read back as id %v", n, row[0])
		}
		n++
	}
	if err := got.Err(); err != nil || n != len(rows) {
		t.Fatalf("read %d rows (err %v), want %d", n, err, len(rows))
	}

	w, err := NewWriter(schema, Options{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows[0]); err != nil {
		t.Fatal(err)
	}
	w.Discard()
	if err := w.Write(rows[1]); err == nil {
		t.Error("write after Discard accepted")
	}
	assertEmptyDir(t, dir)

	if _, err := NewWriter(schema, Options{TempDir: dir + "/missing"}); err == nil {
		t.Error("missing temp dir accepted")
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("%s holds %d entries (first %s), want none", dir, len(ents), ents[0].Name())
	}
}

// TestZstdEncodersBoundedAcrossWriters opens many writers at once, from
// several goroutines, and checks the shared codec never created more than
// its bound of encoders: open files no longer cost an encoder each.
func TestZstdEncodersBoundedAcrossWriters(t *testing.T) {
	schema := mustSchema(t, noisySchema)
	rows := noisyRows(2, 600)
	const goroutines, writersEach = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ws []*Writer
			for range writersEach {
				w, err := NewWriter(schema, Options{ZstdLevel: 1})
				if err != nil {
					errs <- err
					return
				}
				ws = append(ws, w)
			}
			// Interleave the writers so all are open with pages compressed.
			for _, r := range rows {
				for _, w := range ws {
					if err := w.Write(r); err != nil {
						errs <- fmt.Errorf("goroutine %d: %w", g, err)
						return
					}
				}
			}
			for _, w := range ws {
				if _, _, err := w.FinishBytes(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := sharedZstd(1)
	if got, bound := c.liveEncoders(), maxZstdEncoders(); got < 1 || got > bound {
		t.Errorf("%d zstd encoders for %d open writers, want 1..%d", got, goroutines*writersEach, bound)
	}
}

// TestSharedZstdMatchesParquetCodec checks the shared codec's smaller
// window and lower-memory mode do not change a page's compressed bytes
// compared with parquet-go's own codec at the same level, and that the
// page decodes back.
func TestSharedZstdMatchesParquetCodec(t *testing.T) {
	var page []byte
	for _, r := range noisyRows(3, 250) { // ~256 KiB, parquet-go's page size
		page = append(page, r[2].([]byte)...)
		page = append(page, r[1].(string)...)
	}
	for level, pl := range map[int]pqzstd.Level{1: pqzstd.SpeedFastest, 2: pqzstd.SpeedDefault} {
		got, err := sharedZstd(level).Encode(nil, page)
		if err != nil {
			t.Fatal(err)
		}
		want, err := (&pqzstd.Codec{Level: pl}).Encode(nil, page)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("level %d: %d compressed bytes differ from parquet-go's %d", level, len(got), len(want))
		}
		back, err := sharedZstd(level).Decode(nil, got)
		if err != nil || !bytes.Equal(back, page) {
			t.Errorf("level %d: page does not decode back (err %v)", level, err)
		}
	}
}

// TestFinishFromTempDir uploads a file built in a temporary directory
// (mapped, not copied, on Unix) and checks the stored object is the file
// the same rows make in memory, and that nothing is left in the directory.
func TestFinishFromTempDir(t *testing.T) {
	schema := mustSchema(t, noisySchema)
	rows := noisyRows(4, 1500)
	dir := t.TempDir()
	var ws [2]*Writer
	for i, opts := range []Options{{}, {TempDir: dir}} {
		w, err := NewWriter(schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		ws[i] = w
	}
	want, _, err := ws[0].FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	store := newMapStore()
	add, err := ws[1].Finish(context.Background(), store, "sub")
	if err != nil {
		t.Fatal(err)
	}
	got := store.m[add.Path]
	if !bytes.Equal(got, want) || add.Size != int64(len(want)) {
		t.Errorf("stored %d bytes (add.Size %d), want the in-memory file's %d, equal", len(got), add.Size, len(want))
	}
	assertEmptyDir(t, dir)
}
