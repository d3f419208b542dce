package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/schemas"
)

// chunkRead is one ReadChunk call a recordingSource saw.
type chunkRead struct {
	view  int
	table string
	chunk int
}

// recordingSource is a MySQL-like source (one view per worker) of tables
// with keys 1..40 in four chunks (bounds 10, 20, 30). It records which
// view read which chunk, and fails the read of failOn once.
type recordingSource struct {
	partial map[string]bool // table name → Table.PartialImages
	failOn  *chunkRead      // view ignored

	mu     sync.Mutex
	nviews int
	reads  []chunkRead
	open   int
}

var errChunkRead = errors.New("chunk read failed")

func (s *recordingSource) Connector() string { return schemas.ConnectorMariaDB }
func (s *recordingSource) ExclusiveViews()   {}

func (s *recordingSource) Tables(context.Context) ([]*Table, error) {
	var out []*Table
	for _, name := range []string{"a", "b"} {
		t := pipelineTable()
		t.ID.Table = name
		t.EstimatedRows = 40
		t.PartialImages = s.partial[name]
		out = append(out, t)
	}
	return out, nil
}

func (s *recordingSource) Boundaries(context.Context, *Table, int) ([]Bound, error) {
	return []Bound{{"10"}, {"20"}, {"30"}}, nil
}

func (s *recordingSource) OpenView(context.Context) (View, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nviews++
	s.open++
	return &recordingView{s: s, id: s.nviews}, nil
}

// readsOf returns the chunks of table read, in order, and the views they
// were read in.
func (s *recordingSource) readsOf(table string) (chunks []int, views map[int]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	views = map[int]bool{}
	for _, r := range s.reads {
		if r.table == table {
			chunks = append(chunks, r.chunk)
			views[r.view] = true
		}
	}
	return chunks, views
}

type recordingView struct {
	s      *recordingSource
	id     int
	closed bool
}

func (v *recordingView) Position() schemas.Source {
	return schemas.Source{Connector: schemas.ConnectorMariaDB, File: "binlog.000001", Pos: uint64(1000 * v.id)}
}

func (v *recordingView) ReadChunk(_ context.Context, t *Table, c Chunk, emit func([]any) error) error {
	s := v.s
	s.mu.Lock()
	s.reads = append(s.reads, chunkRead{view: v.id, table: t.ID.Table, chunk: c.Index})
	fail := s.failOn != nil && s.failOn.table == t.ID.Table && s.failOn.chunk == c.Index
	if fail {
		s.failOn = nil
	}
	s.mu.Unlock()
	if fail {
		return errChunkRead
	}
	lo, hi := int64(0), int64(40)
	if c.Lo != nil {
		lo, _ = strconv.ParseInt(c.Lo[0], 10, 64)
	}
	if c.Hi != nil {
		hi, _ = strconv.ParseInt(c.Hi[0], 10, 64)
	}
	for k := lo + 1; k <= hi; k++ {
		if err := emit([]any{k, fmt.Sprint("row ", k)}); err != nil {
			return err
		}
	}
	return nil
}

func (v *recordingView) Close() error {
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	if !v.closed {
		v.closed = true
		v.s.open--
	}
	return nil
}

// tickingClock advances a second on every call, so that a ViewMaxAge of
// one millisecond retires every pooled view after its first chunk.
func tickingClock() func() time.Time {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func oneViewConfig(mode PartialImages) Config {
	return Config{
		SnapshotID: "s1", TopicPrefix: "pfx", Parallel: 2, ChunkRows: 10,
		ViewMaxAge: time.Millisecond, PartialImages: mode, Now: tickingClock(),
	}
}

func newRawTable(t *testing.T) *lakelog.Table {
	t.Helper()
	store, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lakelog.Open(store, lakelog.Options{})
}

func tableReport(t *testing.T, rep *Report, name string) *TableReport {
	t.Helper()
	for _, tr := range rep.Tables {
		if tr.Table == "db.public."+name {
			return tr
		}
	}
	t.Fatalf("no report for table %s", name)
	return nil
}

// A table whose events may lack columns has all its chunks read in one
// view, in key order, even though ViewMaxAge retires every other view
// after one chunk; the other table's chunks are spread over several views.
func TestPartialImageTableReadInOneView(t *testing.T) {
	ctx := context.Background()
	src := &recordingSource{partial: map[string]bool{"a": true}}
	rep, err := Run(ctx, src, newRawTable(t), oneViewConfig(PartialImagesAuto), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunks, views := src.readsOf("a")
	if want := []int{0, 1, 2, 3}; !slices.Equal(chunks, want) {
		t.Errorf("table a: chunks read %v, want %v", chunks, want)
	}
	if len(views) != 1 {
		t.Errorf("table a: read in %d views %v, want 1", len(views), views)
	}
	bChunks, bViews := src.readsOf("b")
	if len(bChunks) != 4 {
		t.Errorf("table b: chunks read %v, want 4 chunks", bChunks)
	}
	if len(bViews) < 2 {
		t.Errorf("table b: read in %d views, want several (ViewMaxAge retires each after one chunk)", len(bViews))
	}
	for v := range views {
		if bViews[v] {
			t.Errorf("view %d read chunks of both tables; table a's view must be its own", v)
		}
	}
	a := tableReport(t, rep, "a")
	if !a.OneView || len(a.Views) != 1 || a.Rows != 40 || a.Reread != 0 {
		t.Errorf("table a report: one view %v, views %v, rows %d, reread %d; want true, 1 view, 40 rows, 0", a.OneView, a.Views, a.Rows, a.Reread)
	}
	if b := tableReport(t, rep, "b"); b.OneView || b.Rows != 40 {
		t.Errorf("table b report: one view %v, rows %d; want false, 40", b.OneView, b.Rows)
	}
	if src.open != 0 {
		t.Errorf("%d views left open", src.open)
	}
}

// The Config option overrides what the source says.
func TestPartialImagesOption(t *testing.T) {
	for _, tc := range []struct {
		mode       PartialImages
		partial    bool
		oneViewTbl bool
	}{
		{PartialImagesAuto, true, true},
		{PartialImagesAuto, false, false},
		{PartialImagesAlways, false, true},
		{PartialImagesNever, true, false},
	} {
		t.Run(fmt.Sprintf("%s/partial=%v", tc.mode, tc.partial), func(t *testing.T) {
			src := &recordingSource{partial: map[string]bool{"a": tc.partial, "b": tc.partial}}
			if _, err := Run(context.Background(), src, newRawTable(t), oneViewConfig(tc.mode), nil, nil); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"a", "b"} {
				_, views := src.readsOf(table)
				if got := len(views) == 1; got != tc.oneViewTbl {
					t.Errorf("table %s: read in %d views, want one view: %v", table, len(views), tc.oneViewTbl)
				}
			}
		})
	}
	if _, err := (Config{SnapshotID: "s", TopicPrefix: "p", PartialImages: "sometimes"}).withDefaults(); err == nil {
		t.Error("partial images \"sometimes\": no error")
	}
}

// A one-view table that an earlier run left partly committed is read
// again in full, in one new view, the committed chunks first, so that it
// stays in progress (some chunk without a commit) until every chunk has
// been read at the new position. A table not read in one view resumes
// with its missing chunks only.
func TestPartialImageTableRereadOnResume(t *testing.T) {
	ctx := context.Background()
	raw := newRawTable(t)
	cfg := oneViewConfig(PartialImagesAuto)
	cfg.Parallel = 1 // a's chunks 0, 1 commit, then its chunk 2 fails; b is not started

	src1 := &recordingSource{partial: map[string]bool{"a": true}, failOn: &chunkRead{table: "a", chunk: 2}}
	if _, err := Run(ctx, src1, raw, cfg, nil, nil); !errors.Is(err, errChunkRead) {
		t.Fatalf("first run: err %v, want %v", err, errChunkRead)
	}
	snap, err := raw.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var committed []int
	for i := range 4 {
		if _, ok := snap.AppVersion(ChunkAppID("s1", "db.public.a", i)); ok {
			committed = append(committed, i)
		}
	}
	if !slices.Equal(committed, []int{0, 1}) {
		t.Fatalf("after the first run, chunks %v of a are committed, want [0 1]", committed)
	}

	// The second run resumes: a is read again in full, b from scratch.
	src2 := &recordingSource{partial: map[string]bool{"a": true}}
	cfg.Now = tickingClock()
	rep, err := Run(ctx, src2, raw, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunks, views := src2.readsOf("a")
	if want := []int{0, 1, 2, 3}; !slices.Equal(chunks, want) {
		t.Errorf("table a on resume: chunks read %v, want all of %v", chunks, want)
	}
	if len(views) != 1 {
		t.Errorf("table a on resume: read in %d views, want 1", len(views))
	}
	a := tableReport(t, rep, "a")
	if a.Reread != 2 || a.Skipped != 0 || a.Rows != 40 {
		t.Errorf("table a report: reread %d, skipped %d, rows %d; want 2, 0, 40", a.Reread, a.Skipped, a.Rows)
	}
	if snap, err = raw.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if v, ok := snap.AppVersion(ChunkAppID("s1", "db.public.a", i)); !ok || v != 10 {
			t.Errorf("chunk %d of a: committed %v with %d rows, want 10 rows", i, ok, v)
		}
	}

	// A third run finds a complete and reads nothing of it.
	src3 := &recordingSource{partial: map[string]bool{"a": true}}
	cfg.Now = tickingClock()
	rep, err = Run(ctx, src3, raw, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if chunks, _ := src3.readsOf("a"); len(chunks) != 0 {
		t.Errorf("table a complete: third run read chunks %v, want none", chunks)
	}
	if a := tableReport(t, rep, "a"); a.Skipped != 4 || a.Reread != 0 {
		t.Errorf("table a complete: skipped %d, reread %d; want 4, 0", a.Skipped, a.Reread)
	}
}

// The read order of a one-view table given the committed chunks.
func TestOneViewOrder(t *testing.T) {
	chunks, _ := PlanChunks([]Bound{{"10"}, {"20"}, {"30"}, {"40"}})
	for _, tc := range []struct {
		committed  []int
		want       []int
		wantReread int
	}{
		{nil, []int{0, 1, 2, 3, 4}, 0},
		{[]int{0, 1, 2, 3, 4}, nil, 0},
		{[]int{1, 3}, []int{1, 3, 0, 2, 4}, 2},
		{[]int{4}, []int{4, 0, 1, 2, 3}, 1},
	} {
		order, reread := oneViewOrder(chunks, func(c Chunk) bool { return slices.Contains(tc.committed, c.Index) })
		var got []int
		for _, c := range order {
			got = append(got, c.Index)
		}
		if !slices.Equal(got, tc.want) || reread != tc.wantReread {
			t.Errorf("committed %v: order %v reread %d, want %v reread %d", tc.committed, got, reread, tc.want, tc.wantReread)
		}
	}
}
