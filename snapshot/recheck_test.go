package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// recheckChunk marks a ReadChanged call in recordingSource.reads.
const recheckChunk = -1

// recheckSource is a PostgreSQL-like source (views shared by the workers
// through the pool; it wraps a recordingSource without embedding it, so
// that it is no ExclusiveViewer) over a recordingSource's tables: a
// Rechecker whose mark is "mark<n>" for the n-th call and whose views
// re-read the rows of changed (keys) in ReadChanged.
type recheckSource struct {
	rec       *recordingSource
	changed   []int64
	failCheck bool // the first ReadChanged fails

	marks         []string
	viewsAtMark   []int // views opened when each mark was taken
	recheckMarks  []string
	boundaries    []Bound
	setBoundaries bool
}

var errRecheck = errors.New("recheck failed")

func (s *recheckSource) Connector() string { return schemas.ConnectorPostgres }

func (s *recheckSource) Tables(ctx context.Context) ([]*Table, error) { return s.rec.Tables(ctx) }

func (s *recheckSource) Boundaries(ctx context.Context, t *Table, n int) ([]Bound, error) {
	if s.setBoundaries {
		return s.boundaries, nil
	}
	return s.rec.Boundaries(ctx, t, n)
}

func (s *recheckSource) RecheckMark(context.Context) (string, error) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.marks = append(s.marks, "mark"+strconv.Itoa(len(s.marks)+1))
	s.viewsAtMark = append(s.viewsAtMark, s.rec.nviews)
	return s.marks[len(s.marks)-1], nil
}

func (s *recheckSource) OpenView(ctx context.Context) (View, error) {
	v, err := s.rec.OpenView(ctx)
	if err != nil {
		return nil, err
	}
	return &recheckView{recordingView: v.(*recordingView), src: s}, nil
}

type recheckView struct {
	*recordingView
	src *recheckSource
}

func (v *recheckView) ReadChanged(_ context.Context, t *Table, mark string, emit func([]any) error) error {
	s := v.src
	s.rec.mu.Lock()
	s.rec.reads = append(s.rec.reads, chunkRead{view: v.id, table: t.ID.Table, chunk: recheckChunk})
	s.recheckMarks = append(s.recheckMarks, mark)
	fail := s.failCheck
	s.failCheck = false
	s.rec.mu.Unlock()
	if fail {
		return errRecheck
	}
	for _, k := range v.src.changed {
		if err := emit([]any{k, "rechecked"}); err != nil {
			return err
		}
	}
	return nil
}

// readsWithViews returns table's reads in order, as (chunk, view) pairs.
func (s *recordingSource) readsWithViews(table string) []chunkRead {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chunkRead
	for _, r := range s.reads {
		if r.table == table {
			out = append(out, r)
		}
	}
	return out
}

func storedPlan(t *testing.T, raw *lakelog.Table, table string) plan {
	t.Helper()
	rc, err := raw.Store().Get(context.Background(), planDir+"/s1/db.public."+table+".json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	var p plan
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func appVersion(t *testing.T, raw *lakelog.Table, table string, chunk int) (int64, bool) {
	t.Helper()
	snap, err := raw.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap.AppVersion(ChunkAppID("s1", "db.public."+table, chunk))
}

// A table read chunk by chunk in several views gets a recheck pass: its
// mark is taken before any view opens and stored in the plan, the pass
// runs after the table's last key-range chunk, in a view opened after
// every view the chunks used, and commits as chunk 4 (after chunks 0-3)
// with the rows it re-read.
func TestRecheckRunsAfterChunksInNewView(t *testing.T) {
	ctx := context.Background()
	raw := newRawTable(t)
	src := &recheckSource{rec: &recordingSource{}, changed: []int64{1, 35}}
	rep, err := Run(ctx, src, raw, oneViewConfig(PartialImagesAuto), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 0}; !slices.Equal(src.viewsAtMark, want) {
		t.Errorf("views open when the marks were taken: %v, want %v (before any view)", src.viewsAtMark, want)
	}
	for _, table := range []string{"a", "b"} {
		if p := storedPlan(t, raw, table); p.RecheckMark == "" {
			t.Errorf("table %s: stored plan has no recheck mark", table)
		}
		reads := src.rec.readsWithViews(table)
		if len(reads) != 5 {
			t.Fatalf("table %s: reads %v, want 4 chunks and the recheck", table, reads)
		}
		last := reads[4]
		if last.chunk != recheckChunk {
			t.Fatalf("table %s: reads %v, want the recheck last", table, reads)
		}
		views := map[int]bool{}
		for _, r := range reads[:4] {
			views[r.view] = true
			if r.view >= last.view {
				t.Errorf("table %s: chunk %d read in view %d, the recheck in view %d: want the recheck's view opened after every chunk's", table, r.chunk, r.view, last.view)
			}
		}
		if len(views) < 2 {
			t.Errorf("table %s: chunks read in %d views, want several (the test needs rotation)", table, len(views))
		}
		if v, ok := appVersion(t, raw, table, 4); !ok || v != 2 {
			t.Errorf("table %s: recheck chunk 4 committed %v with %d rows, want 2 rows", table, ok, v)
		}
		tr := tableReport(t, rep, table)
		if tr.Chunks != 5 || tr.RecheckRows != 2 || tr.Rows != 42 {
			t.Errorf("table %s report: chunks %d, recheck rows %d, rows %d; want 5, 2, 42", table, tr.Chunks, tr.RecheckRows, tr.Rows)
		}
	}
	if src.rec.open != 0 {
		t.Errorf("%d views left open", src.rec.open)
	}
}

// Chunks all read in one view need no recheck: the pass commits (merge
// waits for it) without reading. A table of one chunk plans none.
func TestRecheckSkippedWhenOneView(t *testing.T) {
	ctx := context.Background()
	t.Run("one view", func(t *testing.T) {
		raw := newRawTable(t)
		src := &recheckSource{rec: &recordingSource{}, changed: []int64{1}}
		cfg := oneViewConfig(PartialImagesAuto)
		cfg.ViewMaxAge = time.Hour
		rep, err := Run(ctx, src, raw, cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"a", "b"} {
			for _, r := range src.rec.readsWithViews(table) {
				if r.chunk == recheckChunk {
					t.Errorf("table %s: recheck read rows, want none (one view)", table)
				}
			}
			if v, ok := appVersion(t, raw, table, 4); !ok || v != 0 {
				t.Errorf("table %s: recheck chunk 4 committed %v with %d rows, want committed with 0", table, ok, v)
			}
			if tr := tableReport(t, rep, table); tr.RecheckRows != 0 || tr.Rows != 40 {
				t.Errorf("table %s report: recheck rows %d, rows %d; want 0, 40", table, tr.RecheckRows, tr.Rows)
			}
		}
	})
	t.Run("one view per table", func(t *testing.T) {
		raw := newRawTable(t)
		src := &recheckSource{rec: &recordingSource{}, changed: []int64{1}}
		if _, err := Run(ctx, src, raw, oneViewConfig(PartialImagesAlways), nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"a", "b"} {
			for _, r := range src.rec.readsWithViews(table) {
				if r.chunk == recheckChunk {
					t.Errorf("table %s read in one view: recheck read rows, want none", table)
				}
			}
			if _, ok := appVersion(t, raw, table, 4); !ok {
				t.Errorf("table %s: recheck chunk 4 not committed", table)
			}
		}
	})
	t.Run("one chunk", func(t *testing.T) {
		raw := newRawTable(t)
		src := &recheckSource{rec: &recordingSource{}, setBoundaries: true}
		rep, err := Run(ctx, src, raw, oneViewConfig(PartialImagesAuto), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p := storedPlan(t, raw, "a"); p.RecheckMark != "" {
			t.Errorf("one-chunk table: plan has recheck mark %q, want none", p.RecheckMark)
		}
		if _, ok := appVersion(t, raw, "a", 1); ok {
			t.Error("one-chunk table: chunk 1 committed, want no recheck chunk")
		}
		if tr := tableReport(t, rep, "a"); tr.Chunks != 1 {
			t.Errorf("one-chunk table: report chunks %d, want 1", tr.Chunks)
		}
	})
}

// A run killed after every key-range chunk committed but before the
// recheck did leaves the table in progress (chunk 4 has no commit); the
// rerun reads no chunk again and runs the recheck from the mark stored by
// the first run, even though its own chunks (none) were "one view".
func TestRecheckResumes(t *testing.T) {
	ctx := context.Background()
	raw := newRawTable(t)
	cfg := oneViewConfig(PartialImagesAuto)
	cfg.Parallel = 1
	src1 := &recheckSource{rec: &recordingSource{}, failCheck: true}
	if _, err := Run(ctx, src1, raw, cfg, nil, nil); !errors.Is(err, errRecheck) {
		t.Fatalf("first run: err %v, want %v", err, errRecheck)
	}
	if _, ok := appVersion(t, raw, "a", 4); ok {
		t.Fatal("first run: recheck chunk committed although it failed")
	}
	for i := range 4 {
		if _, ok := appVersion(t, raw, "a", i); !ok {
			t.Fatalf("first run: chunk %d of a not committed", i)
		}
	}
	mark := storedPlan(t, raw, "a").RecheckMark

	src2 := &recheckSource{rec: &recordingSource{}, changed: []int64{7}}
	cfg.Now = tickingClock()
	rep, err := Run(ctx, src2, raw, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reads := src2.rec.readsWithViews("a")
	if len(reads) != 1 || reads[0].chunk != recheckChunk {
		t.Errorf("rerun: table a reads %v, want only the recheck", reads)
	}
	if len(src2.recheckMarks) == 0 || src2.recheckMarks[0] != mark {
		t.Errorf("rerun: recheck from marks %v, want the stored %q", src2.recheckMarks, mark)
	}
	if v, ok := appVersion(t, raw, "a", 4); !ok || v != 1 {
		t.Errorf("rerun: recheck chunk committed %v with %d rows, want 1 row", ok, v)
	}
	if a := tableReport(t, rep, "a"); a.Skipped != 4 || a.RecheckRows != 1 {
		t.Errorf("rerun report: skipped %d, recheck rows %d; want 4, 1", a.Skipped, a.RecheckRows)
	}

	// A third run finds everything committed and reads nothing.
	src3 := &recheckSource{rec: &recordingSource{}}
	cfg.Now = tickingClock()
	rep, err = Run(ctx, src3, raw, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reads := src3.rec.readsWithViews("a"); len(reads) != 0 {
		t.Errorf("complete: third run read %v, want nothing", reads)
	}
	if a := tableReport(t, rep, "a"); a.Skipped != 5 {
		t.Errorf("complete: skipped %d, want 5", a.Skipped)
	}
}

// Chunks split between two runs were read in two views even when each
// run used one: the recheck reads.
func TestRecheckReadsAfterSplitRuns(t *testing.T) {
	ctx := context.Background()
	raw := newRawTable(t)
	cfg := oneViewConfig(PartialImagesAuto)
	cfg.Parallel = 1
	cfg.ViewMaxAge = time.Hour
	src1 := &recheckSource{rec: &recordingSource{failOn: &chunkRead{table: "a", chunk: 2}}}
	if _, err := Run(ctx, src1, raw, cfg, nil, nil); !errors.Is(err, errChunkRead) {
		t.Fatalf("first run: err %v, want %v", err, errChunkRead)
	}
	src2 := &recheckSource{rec: &recordingSource{}, changed: []int64{3, 4}}
	cfg.Now = tickingClock()
	if _, err := Run(ctx, src2, raw, cfg, nil, nil); err != nil {
		t.Fatal(err)
	}
	reads := src2.rec.readsWithViews("a")
	if len(reads) == 0 || reads[len(reads)-1].chunk != recheckChunk {
		t.Errorf("resumed table a: reads %v, want the recheck last", reads)
	}
	if v, ok := appVersion(t, raw, "a", 4); !ok || v != 2 {
		t.Errorf("recheck chunk committed %v with %d rows, want 2", ok, v)
	}
}

// SkipRecheck (tests) commits the pass without reading.
func TestSkipRecheck(t *testing.T) {
	raw := newRawTable(t)
	src := &recheckSource{rec: &recordingSource{}, changed: []int64{1}}
	cfg := oneViewConfig(PartialImagesAuto)
	cfg.SkipRecheck = true
	if _, err := Run(context.Background(), src, raw, cfg, nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(src.recheckMarks) != 0 {
		t.Errorf("SkipRecheck: recheck read %d times, want 0", len(src.recheckMarks))
	}
	if _, ok := appVersion(t, raw, "a", 4); !ok {
		t.Error("SkipRecheck: recheck chunk not committed")
	}
}
