package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

// Config tunes a Run.
type Config struct {
	// SnapshotID names this snapshot. Running again with the same id
	// resumes it: committed chunks are skipped. A backfill uses a new id.
	SnapshotID string
	// TopicPrefix is Debezium's topic.prefix: rows go under the topic
	// TableID.Topic(TopicPrefix), where the table's change events are.
	TopicPrefix string
	// Parallel is the number of chunks read at once (default 1).
	Parallel int
	// ChunkRows is the target rows per chunk (default 100,000).
	ChunkRows int64
	// MaxRowsPerSec throttles all workers together; 0 means unlimited.
	MaxRowsPerSec int64
	// ViewMaxAge is how long one consistent view (PostgreSQL: one
	// exported snapshot, which holds back the source's xmin horizon)
	// serves new chunks before the next chunk opens a fresh one
	// (default 1 minute).
	ViewMaxAge time.Duration
	// TargetFileBytes starts a new data file once the current one
	// reaches it (default 128 MiB).
	TargetFileBytes int64
	// Where limits tables to the rows matching a SQL predicate in the
	// source's dialect (backfill --where), keyed by TableID.String()
	// (db.schema.table or db.table). Run sets Table.Where from it; the
	// plan records it, so resuming a snapshot id with another predicate
	// is an error rather than a silent mix of two slices.
	Where map[string]string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	if err := validSnapshotID(c.SnapshotID); err != nil {
		return c, err
	}
	if c.TopicPrefix == "" {
		return c, errors.New("snapshot config: topic prefix is empty")
	}
	if c.Parallel <= 0 {
		c.Parallel = 1
	}
	if c.ChunkRows <= 0 {
		c.ChunkRows = 100_000
	}
	if c.ViewMaxAge <= 0 {
		c.ViewMaxAge = time.Minute
	}
	if c.TargetFileBytes <= 0 {
		c.TargetFileBytes = 128 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// work is one chunk waiting to be read.
type work struct {
	table *tableRun
	chunk Chunk
}

// tableRun is the state of one table during a Run.
type tableRun struct {
	t      *Table
	plan   *plan
	chunks []Chunk
	rep    *TableReport
	start  time.Time

	// guarded by runner.mu
	done       int
	rowsBefore int64 // rows of chunks committed by earlier runs
	views      map[string]bool
}

type runner struct {
	src      Source
	raw      *lakelog.Table
	cfg      Config
	log      *slog.Logger
	progress func(Progress)
	throttle *throttle
	views    *viewPool

	mu   sync.Mutex
	snap *lakelog.Snapshot // latest raw snapshot this run knows
}

// Run snapshots every table of src into the raw table as op "r" rows and
// returns what it did. progress, when not nil, receives events serialized
// (never two calls at once). On error the Report covers the chunks
// committed before it; a rerun with the same Config.SnapshotID resumes.
func Run(ctx context.Context, src Source, raw *lakelog.Table, cfg Config, progress func(Progress), logger *slog.Logger) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t0 := cfg.Now()
	rep := &Report{SnapshotID: cfg.SnapshotID}
	snap, err := openRaw(ctx, raw)
	if err != nil {
		return rep, err
	}
	tables, err := src.Tables(ctx)
	if err != nil {
		return rep, fmt.Errorf("list tables: %w", err)
	}
	rn := &runner{
		src: src, raw: raw, cfg: cfg, log: logger, progress: progress,
		throttle: newThrottle(cfg.MaxRowsPerSec),
		views:    &viewPool{src: src, maxAge: cfg.ViewMaxAge, now: cfg.Now, log: logger},
		snap:     snap,
	}
	defer rn.views.closeAll()

	var queue []work
	var runs []*tableRun
	for _, t := range tables {
		if w, ok := cfg.Where[t.ID.String()]; ok {
			t.Where = w
		}
		tr, err := rn.planTable(ctx, t)
		if err != nil {
			return rep, err
		}
		runs = append(runs, tr)
		rep.Tables = append(rep.Tables, tr.rep)
		for _, c := range tr.chunks {
			if v, ok := snap.AppVersion(ChunkAppID(cfg.SnapshotID, t.ID.String(), c.Index)); ok {
				tr.done++
				tr.rowsBefore += v
				tr.rep.Skipped++
				continue
			}
			queue = append(queue, work{table: tr, chunk: c})
		}
		logger.Info("snapshot table planned", "table", t.ID.String(), "chunks", len(tr.chunks), "committed", tr.done, "estimated_rows", t.EstimatedRows)
		if tr.done == len(tr.chunks) {
			rn.report(tr, true)
		}
	}

	err = rn.runWorkers(ctx, queue)
	for _, tr := range runs {
		slices.Sort(tr.rep.Commits)
		for v := range tr.views {
			tr.rep.Views = append(tr.rep.Views, v)
		}
		slices.Sort(tr.rep.Views)
		rep.Rows += tr.rep.Rows
		rep.Files += tr.rep.Files
		rep.Bytes += tr.rep.Bytes
	}
	rep.Duration = cfg.Now().Sub(t0)
	return rep, err
}

// planTable loads the table's stored plan or makes and stores one.
func (rn *runner) planTable(ctx context.Context, t *Table) (*tableRun, error) {
	name := t.ID.String()
	if len(t.Key) == 0 {
		return nil, fmt.Errorf("table %s: no primary key: cannot chunk by key ranges", name)
	}
	p, created, err := loadOrSavePlan(ctx, rn.raw.Store(), rn.cfg.SnapshotID, t, func() (*plan, error) {
		chunks := 1
		if t.EstimatedRows > 0 {
			chunks = int((t.EstimatedRows + rn.cfg.ChunkRows - 1) / rn.cfg.ChunkRows)
		}
		var bounds []Bound
		if chunks > 1 {
			var err error
			if bounds, err = rn.src.Boundaries(ctx, t, chunks); err != nil {
				return nil, fmt.Errorf("table %s: chunk boundaries: %w", name, err)
			}
		}
		return &plan{SnapshotID: rn.cfg.SnapshotID, Table: name, Key: t.Key, Where: t.Where, Boundaries: bounds, EstimatedRows: t.EstimatedRows}, nil
	})
	if err != nil {
		return nil, err
	}
	if !created {
		rn.log.Info("snapshot resumes stored plan", "table", name, "chunks", len(p.Boundaries)+1)
	}
	chunks, err := PlanChunks(p.Boundaries)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	return &tableRun{
		t: t, plan: p, chunks: chunks, start: rn.cfg.Now(), views: map[string]bool{},
		rep: &TableReport{Table: name, Topic: t.ID.Topic(rn.cfg.TopicPrefix), Chunks: len(chunks)},
	}, nil
}

// runWorkers reads the queued chunks with cfg.Parallel workers. The first
// error cancels the others; it is returned.
func (rn *runner) runWorkers(ctx context.Context, queue []work) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan work)
	var wg sync.WaitGroup
	for range min(rn.cfg.Parallel, max(len(queue), 1)) {
		wg.Go(func() {
			for w := range next {
				if err := rn.chunk(ctx, w); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for _, w := range queue {
		select {
		case next <- w:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// chunk reads one chunk in a consistent view, writes its raw rows and
// commits them with the chunk's txn appId. A concurrent run that
// committed the same chunk first wins; this run's files are then
// discarded (orphans that VACUUM removes).
func (rn *runner) chunk(ctx context.Context, w work) error {
	tr, c := w.table, w.chunk
	name := tr.t.ID.String()
	sv, err := rn.views.acquire(ctx)
	if err != nil {
		return fmt.Errorf("table %s chunk %d: open view: %w", name, c.Index, err)
	}
	defer rn.views.release(sv)

	batchID := "snapshot|" + rn.cfg.SnapshotID + "|" + name + "|" + fmt.Sprint(c.Index)
	b, err := newRowBuilder(tr.t, sv.v.Position(), rn.cfg.TopicPrefix, batchID, c.Index, rn.cfg.Now())
	if err != nil {
		return err
	}
	fw := &fileWriter{store: rn.raw, target: rn.cfg.TargetFileBytes}
	pipe := startPipeline(ctx, b, fw)
	last := c.Hi == nil // the table's final chunk carries source.snapshot "last"
	var prev []any
	const step = 256
	pending := 0
	err = sv.v.ReadChunk(ctx, tr.t, c, func(values []any) error {
		if pending == 0 {
			if err := rn.throttle.wait(ctx, step); err != nil {
				return err
			}
			pending = step
		}
		pending--
		if !last {
			return pipe.add(ctx, values, false)
		}
		// Hold one row back so the very last one can be marked.
		if prev != nil {
			if err := pipe.add(ctx, prev, false); err != nil {
				return err
			}
		}
		prev = append(prev[:0], values...)
		return nil
	})
	if err == nil && prev != nil {
		err = pipe.add(ctx, prev, true)
	}
	if err != nil {
		pipe.abort()
		return fmt.Errorf("table %s chunk %d: %w", name, c.Index, err)
	}
	rows, err := pipe.finish(ctx)
	if err != nil {
		return fmt.Errorf("table %s chunk %d: %w", name, c.Index, err)
	}
	adds, bytes, err := fw.finish(ctx)
	if err != nil {
		return fmt.Errorf("table %s chunk %d: %w", name, c.Index, err)
	}

	rn.mu.Lock()
	snap := rn.snap
	rn.mu.Unlock()
	tx := snap.Begin("WRITE")
	tx.Add(adds...)
	appID := ChunkAppID(rn.cfg.SnapshotID, name, c.Index)
	tx.SetAppVersion(appID, rows)
	tx.SetOperationParameters(map[string]any{"mode": "Append", "batchId": batchID})
	tx.SetOperationMetrics(map[string]any{"numFiles": len(adds), "numOutputRows": rows})
	v, err := tx.Commit(ctx)
	if errors.Is(err, lakelog.ErrConflict) {
		rn.log.Warn("snapshot chunk committed concurrently; discarding this copy", "table", name, "chunk", c.Index, "err", err)
		rn.mu.Lock()
		tr.done++
		tr.rep.Skipped++
		rn.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("table %s chunk %d: commit: %w", name, c.Index, err)
	}
	next, err := rn.raw.SnapshotAt(ctx, v)
	if err != nil {
		return fmt.Errorf("raw table snapshot at %d: %w", v, err)
	}
	rn.log.Debug("snapshot chunk committed", "table", name, "chunk", c.Index, "rows", rows, "version", v, "at", b.ordKey)

	rn.mu.Lock()
	defer rn.mu.Unlock()
	if next.Version() > rn.snap.Version() {
		rn.snap = next
	}
	tr.done++
	tr.views[b.ordKey] = true
	tr.rep.Rows += rows
	tr.rep.Files += len(adds)
	tr.rep.Bytes += bytes
	tr.rep.Commits = append(tr.rep.Commits, v)
	rn.report(tr, false)
	return nil
}

// report sends tr's progress; the caller holds rn.mu (or runs alone).
func (rn *runner) report(tr *tableRun, force bool) {
	done := tr.done == len(tr.chunks)
	if done {
		tr.rep.Duration = rn.cfg.Now().Sub(tr.start)
	}
	if rn.progress == nil || (!force && tr.done == 0) {
		return
	}
	p := Progress{
		Table: tr.rep.Table, ChunksDone: tr.done, ChunksTotal: len(tr.chunks),
		Rows: tr.rowsBefore + tr.rep.Rows, EstimatedRows: tr.plan.EstimatedRows, Done: done,
	}
	if el := rn.cfg.Now().Sub(tr.start).Seconds(); el > 0 {
		p.RowsPerSec = float64(tr.rep.Rows) / el
	}
	if ran := tr.done - tr.rep.Skipped; !done && ran > 0 {
		perChunk := rn.cfg.Now().Sub(tr.start) / time.Duration(ran)
		p.ETA = perChunk * time.Duration(len(tr.chunks)-tr.done)
	}
	rn.progress(p)
}

// rawRowGroupBytes caps a snapshot file's row groups as ingest caps its
// raw files' (8 MiB): a worker holds one row group of uncompressed rows
// (each row carries its ~2-3 KB JSON envelope with schema), so the
// datafile default (128 MiB) would hold hundreds of MB per worker.
const rawRowGroupBytes = 8 << 20

// fileWriter writes raw rows into data files of about target bytes.
type fileWriter struct {
	store  *lakelog.Table
	target int64
	w      *datafile.Writer
	adds   []*lakelog.Add
	bytes  int64
}

func (f *fileWriter) write(ctx context.Context, row []any) error {
	if f.w == nil {
		w, err := datafile.NewWriter(rawSchema(), datafile.Options{RowGroupBytes: rawRowGroupBytes})
		if err != nil {
			return fmt.Errorf("data file: %w", err)
		}
		f.w = w
	}
	if err := f.w.Write(row); err != nil {
		return fmt.Errorf("data file: %w", err)
	}
	if f.w.EstimatedSize() >= f.target {
		return f.flush(ctx)
	}
	return nil
}

func (f *fileWriter) flush(ctx context.Context) error {
	if f.w == nil || f.w.Rows() == 0 {
		return nil
	}
	add, err := f.w.Finish(ctx, f.store.Store(), "")
	if err != nil {
		return fmt.Errorf("data file: %w", err)
	}
	f.w = nil
	f.adds = append(f.adds, add)
	f.bytes += add.Size
	return nil
}

func (f *fileWriter) finish(ctx context.Context) ([]*lakelog.Add, int64, error) {
	if err := f.flush(ctx); err != nil {
		return nil, 0, err
	}
	return f.adds, f.bytes, nil
}
