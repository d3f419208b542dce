package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/schemas"
)

func pipelineTable() *Table {
	return &Table{
		ID:  schemas.TableID{Database: "db", Schema: "public", Table: "t"},
		Key: []string{"id"},
		Columns: []schemas.Column{
			{Name: "id", Type: schemas.Int64},
			{Name: "note", Type: schemas.String, Optional: true},
		},
	}
}

// Rows reach the data file in order, with consecutive offsets and exactly
// the bytes schemas.EncodeKey/EncodeValue give for each row, including a
// partial last batch and the "last" marker.
func TestPipelineWritesEveryRowInOrder(t *testing.T) {
	ctx := context.Background()
	store, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	raw := lakelog.Open(store, lakelog.Options{})
	tb := pipelineTable()
	pos := schemas.Source{Version: "v", Connector: schemas.ConnectorPostgres, TsMs: 1000, CommitLSN: 77}
	b, err := newRowBuilder(tb, pos, "pfx", "batch", 3, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	fw := &fileWriter{store: raw, target: 1 << 30}
	p := startPipeline(ctx, b, fw)
	const n = 3*pipelineBatchRows + 17
	for i := range n {
		if err := p.add(ctx, []any{int64(i), fmt.Sprint("row ", i)}, i == n-1); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := p.finish(ctx)
	if err != nil || rows != n {
		t.Fatalf("finish = %d, %v; want %d rows", rows, err, n)
	}
	adds, _, err := fw.finish(ctx)
	if err != nil || len(adds) != 1 {
		t.Fatalf("files %d, %v", len(adds), err)
	}
	got, err := datafile.ReadFile(ctx, store, adds[0], rawSchema())
	if err != nil {
		t.Fatal(err)
	}
	src := pos
	src.Name, src.DB, src.Schema, src.Table = "pfx", "db", "public", "t"
	for i := 0; ; i++ {
		r, ok := got.Next()
		if !ok {
			if i != n {
				t.Fatalf("read %d rows, want %d", i, n)
			}
			break
		}
		if off, want := r[rawOffsetIdx].(int64), int64(3)<<32|int64(i); off != want {
			t.Fatalf("row %d: offset %x, want %x", i, off, want)
		}
		c := schemas.Change{Table: tb.ID, Op: schemas.OpRead, Columns: tb.Columns, Key: tb.Key, Source: src, TsMs: 1000,
			After: []any{int64(i), fmt.Sprint("row ", i)}}
		c.Source.Snapshot = "true"
		if i == n-1 {
			c.Source.Snapshot = "last"
		}
		wantKey, _ := schemas.EncodeKey(&c, true)
		wantValue, _ := schemas.EncodeValue(&c, true)
		if !bytes.Equal(r[rawKeyIdx].([]byte), wantKey) || !bytes.Equal(r[rawValueIdx].([]byte), wantValue) {
			t.Fatalf("row %d:\nkey   %s\nwant  %s\nvalue %s\nwant  %s", i, r[rawKeyIdx], wantKey, r[rawValueIdx], wantValue)
		}
	}
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
}

// failingStore refuses every write.
type failingStore struct{ blob.Store }

var errStoreDown = errors.New("store down")

func (failingStore) PutIfAbsent(context.Context, string, []byte) error { return errStoreDown }
func (failingStore) Put(context.Context, string, []byte) error         { return errStoreDown }

// A writer error stops the reader (add returns it) instead of leaving it
// blocked, and finish reports it.
func TestPipelineWriterErrorStopsReader(t *testing.T) {
	ctx := context.Background()
	store, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	raw := lakelog.Open(failingStore{store}, lakelog.Options{})
	b, err := newRowBuilder(pipelineTable(), schemas.Source{Connector: schemas.ConnectorPostgres, CommitLSN: 1}, "pfx", "batch", 0, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	fw := &fileWriter{store: raw, target: 1} // flush (and fail) at the first row
	p := startPipeline(ctx, b, fw)
	var addErr error
	for i := range 100 * pipelineBatchRows {
		if addErr = p.add(ctx, []any{int64(i), "x"}, false); addErr != nil {
			break
		}
	}
	if !errors.Is(addErr, errStoreDown) {
		t.Errorf("add error = %v, want %v", addErr, errStoreDown)
	}
	if _, err := p.finish(ctx); !errors.Is(err, errStoreDown) {
		t.Errorf("finish error = %v, want %v", err, errStoreDown)
	}
}
