package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
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
	// (default 1 minute). It does not apply to tables read in one view
	// (PartialImages).
	ViewMaxAge time.Duration
	// PartialImages chooses the tables whose chunks are all read in one
	// view (default PartialImagesAuto: those whose Source sets
	// Table.PartialImages). Such a table, found partly committed by an
	// earlier run, is read again in full.
	PartialImages PartialImages
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
	// SkipRecheck commits the recheck pass of a table without reading
	// (recheck.go). Tests only: it shows the window the recheck closes.
	SkipRecheck bool
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
	if c.PartialImages == "" {
		c.PartialImages = PartialImagesAuto
	}
	if err := c.PartialImages.valid(); err != nil {
		return c, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// work is chunks of one table waiting to be read: one chunk, read in a
// pooled view, or, for a table read in one view, all the chunks it reads
// this run, in order.
type work struct {
	table  *tableRun
	chunks []Chunk
	// recheck: the table's recheck pass (its key-range chunks were all
	// committed by earlier runs).
	recheck bool
}

// tableRun is the state of one table during a Run.
type tableRun struct {
	t      *Table
	plan   *plan
	chunks []Chunk
	rep    *TableReport
	start  time.Time
	// oneView: every chunk is read in one view (Config.PartialImages).
	oneView bool
	// recheck is the chunk index of the table's recheck pass
	// (recheck.go), len(chunks); -1 when its plan has none.
	recheck int

	// guarded by runner.mu
	done           int // key-range chunks committed, this run or earlier
	recheckDone    bool
	recheckClaimed bool  // a worker runs the recheck pass
	rowsBefore     int64 // rows of chunks committed by earlier runs
	views          map[string]bool
}

// total is the number of chunks in tr's plan: the key ranges and the
// recheck pass, if any.
func (tr *tableRun) total() int {
	if tr.recheck >= 0 {
		return len(tr.chunks) + 1
	}
	return len(tr.chunks)
}

// doneAll is the number of tr's chunks committed, recheck pass included;
// the caller holds runner.mu (or runs alone).
func (tr *tableRun) doneAll() int {
	if tr.recheckDone {
		return tr.done + 1
	}
	return tr.done
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

	// Tables read in one view go first: each is one worker's sequential
	// job, so starting them early keeps them from being the tail.
	var queue, oneView, rechecks []work
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
		committed := func(c Chunk) (int64, bool) {
			return snap.AppVersion(ChunkAppID(cfg.SnapshotID, t.ID.String(), c.Index))
		}
		if tr.oneView = cfg.PartialImages.oneView(t); tr.oneView {
			order, reread := oneViewOrder(tr.chunks, func(c Chunk) bool { _, ok := committed(c); return ok })
			tr.rep.OneView, tr.rep.Reread = true, reread
			if reread > 0 {
				logger.Warn("snapshot reads a partly loaded table again in full, in one view: its change events may lack columns (partial row images), and chunks read at two positions can miss a row whose key changed in between",
					"table", t.ID.String(), "chunks", len(tr.chunks), "committed_earlier", reread)
			}
			for _, c := range tr.chunks {
				if v, ok := committed(c); ok && reread == 0 { // read again: not skipped
					tr.done++
					tr.rowsBefore += v
					tr.rep.Skipped++
				}
			}
			if len(order) > 0 {
				oneView = append(oneView, work{table: tr, chunks: order})
			}
		} else {
			for _, c := range tr.chunks {
				if v, ok := committed(c); ok {
					tr.done++
					tr.rowsBefore += v
					tr.rep.Skipped++
					continue
				}
				queue = append(queue, work{table: tr, chunks: []Chunk{c}})
			}
		}
		if tr.recheck >= 0 {
			if v, ok := committed(Chunk{Index: tr.recheck}); ok {
				tr.recheckDone = true
				tr.rowsBefore += v
				tr.rep.Skipped++
			} else if tr.done == len(tr.chunks) {
				// Every key range was committed by earlier runs, the
				// recheck pass was not: it runs now, from the plan's mark.
				tr.recheckClaimed = true
				rechecks = append(rechecks, work{table: tr, recheck: true})
			}
		}
		logger.Info("snapshot table planned", "table", t.ID.String(), "chunks", tr.total(), "committed", tr.doneAll(), "estimated_rows", t.EstimatedRows, "one_view", tr.oneView, "recheck", tr.recheck >= 0)
		if tr.doneAll() == tr.total() {
			rn.report(tr, true)
		}
	}

	err = rn.runWorkers(ctx, slices.Concat(rechecks, oneView, queue))
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
	rc, canRecheck := rn.src.(Rechecker)
	p, created, err := loadOrSavePlan(ctx, rn.raw.Store(), rn.cfg.SnapshotID, t, func() (*plan, error) {
		// The mark is taken before the table's first view opens (views
		// open after every table is planned), so the recheck pass covers
		// every row version written while its chunks are read.
		var mark string
		if canRecheck {
			var err error
			if mark, err = rc.RecheckMark(ctx); err != nil {
				return nil, fmt.Errorf("table %s: recheck mark: %w", name, err)
			}
		}
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
		if len(bounds) == 0 {
			mark = "" // one chunk is read in one view: nothing to recheck
		}
		return &plan{SnapshotID: rn.cfg.SnapshotID, Table: name, Key: t.Key, Where: t.Where, Boundaries: bounds, EstimatedRows: t.EstimatedRows, RecheckMark: mark}, nil
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
	tr := &tableRun{
		t: t, plan: p, chunks: chunks, recheck: -1, start: rn.cfg.Now(), views: map[string]bool{},
		rep: &TableReport{Table: name, Topic: t.ID.Topic(rn.cfg.TopicPrefix)},
	}
	if p.RecheckMark != "" {
		if !canRecheck {
			return nil, fmt.Errorf("table %s: stored plan has a recheck pass, but the source cannot run one", name)
		}
		tr.recheck = len(chunks)
	}
	tr.rep.Chunks = tr.total()
	return tr, nil
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
				if err := rn.work(ctx, w); err != nil {
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

// work reads w's chunks: in a view of their own for a table read in one
// view, else (one chunk) in a view of the pool. The worker that commits
// a table's last key-range chunk then runs its recheck pass.
func (rn *runner) work(ctx context.Context, w work) error {
	if w.recheck {
		return rn.recheckTable(ctx, w.table)
	}
	var err error
	if w.table.oneView {
		err = rn.oneViewTable(ctx, w)
	} else {
		err = rn.pooledChunk(ctx, w.table, w.chunks[0])
	}
	if err != nil {
		return err
	}
	if rn.claimRecheck(w.table) {
		return rn.recheckTable(ctx, w.table)
	}
	return nil
}

// pooledChunk reads chunk c of tr in a view of the pool.
func (rn *runner) pooledChunk(ctx context.Context, tr *tableRun, c Chunk) error {
	sv, err := rn.views.acquire(ctx)
	if err != nil {
		return fmt.Errorf("table %s chunk %d: open view: %w", tr.t.ID.String(), c.Index, err)
	}
	defer rn.views.release(sv)
	return rn.readChunk(ctx, tr, c, sv.v)
}

// readChunk reads chunk c of tr in view v, writes its raw rows and
// commits them with the chunk's txn appId. A concurrent run that
// committed the same chunk first wins; this run's files are then
// discarded (orphans that VACUUM removes). Committing an appId an earlier
// run committed (a one-view table read again) is no conflict: the new
// copy is added beside the old one.
func (rn *runner) readChunk(ctx context.Context, tr *tableRun, c Chunk, view View) error {
	// The table's final chunk carries source.snapshot "last".
	return rn.load(ctx, tr, c.Index, c.Hi == nil, view, func(emit func([]any) error) error {
		return view.ReadChunk(ctx, tr.t, c, emit)
	})
}

// load writes the rows read (read calls emit with each) in view as chunk
// index of tr and commits them (see readChunk); last marks the final row
// source.snapshot "last".
func (rn *runner) load(ctx context.Context, tr *tableRun, index int, last bool, view View, read func(emit func([]any) error) error) error {
	name := tr.t.ID.String()
	batchID := chunkBatchID(rn.cfg.SnapshotID, name, index)
	b, err := newRowBuilder(tr.t, view.Position(), rn.cfg.TopicPrefix, batchID, index, rn.cfg.Now())
	if err != nil {
		return err
	}
	fw := &fileWriter{store: rn.raw, target: rn.cfg.TargetFileBytes}
	pipe := startPipeline(ctx, b, fw)
	var prev []any
	const step = 256
	pending := 0
	err = read(func(values []any) error {
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
		return fmt.Errorf("table %s chunk %d: %w", name, index, err)
	}
	rows, err := pipe.finish(ctx)
	if err != nil {
		return fmt.Errorf("table %s chunk %d: %w", name, index, err)
	}
	adds, bytes, err := fw.finish(ctx)
	if err != nil {
		return fmt.Errorf("table %s chunk %d: %w", name, index, err)
	}
	return rn.commitChunk(ctx, tr, index, adds, rows, bytes, b.ordKey)
}

func chunkBatchID(snapshotID, table string, index int) string {
	return "snapshot|" + snapshotID + "|" + table + "|" + strconv.Itoa(index)
}

// commitChunk commits adds (rows rows, bytes bytes, read at ordering key
// ordKey; "" when nothing was read) as chunk index of tr, with the
// chunk's txn appId.
func (rn *runner) commitChunk(ctx context.Context, tr *tableRun, index int, adds []*lakelog.Add, rows, bytes int64, ordKey string) error {
	name := tr.t.ID.String()
	batchID := chunkBatchID(rn.cfg.SnapshotID, name, index)
	rn.mu.Lock()
	snap := rn.snap
	rn.mu.Unlock()
	tx := snap.Begin("WRITE")
	tx.Add(adds...)
	appID := ChunkAppID(rn.cfg.SnapshotID, name, index)
	tx.SetAppVersion(appID, rows)
	tx.SetOperationParameters(map[string]any{"mode": "Append", "batchId": batchID})
	tx.SetOperationMetrics(map[string]any{"numFiles": len(adds), "numOutputRows": rows})
	v, err := tx.Commit(ctx)
	if errors.Is(err, lakelog.ErrConflict) {
		rn.log.Warn("snapshot chunk committed concurrently; discarding this copy", "table", name, "chunk", index, "err", err)
		rn.mu.Lock()
		tr.markDone(index)
		tr.rep.Skipped++
		rn.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("table %s chunk %d: commit: %w", name, index, err)
	}
	next, err := rn.raw.SnapshotAt(ctx, v)
	if err != nil {
		return fmt.Errorf("raw table snapshot at %d: %w", v, err)
	}
	rn.log.Debug("snapshot chunk committed", "table", name, "chunk", index, "rows", rows, "version", v, "at", ordKey)

	rn.mu.Lock()
	defer rn.mu.Unlock()
	if next.Version() > rn.snap.Version() {
		rn.snap = next
	}
	if tr.markDone(index) {
		tr.rep.RecheckRows += rows
	}
	if ordKey != "" {
		tr.views[ordKey] = true
	}
	tr.rep.Rows += rows
	tr.rep.Files += len(adds)
	tr.rep.Bytes += bytes
	tr.rep.Commits = append(tr.rep.Commits, v)
	rn.report(tr, false)
	return nil
}

// markDone counts chunk index of tr as committed and says whether it is
// the recheck pass; the caller holds runner.mu.
func (tr *tableRun) markDone(index int) (recheck bool) {
	if index == tr.recheck {
		tr.recheckDone = true
		return true
	}
	tr.done++
	return false
}

// report sends tr's progress; the caller holds rn.mu (or runs alone).
func (rn *runner) report(tr *tableRun, force bool) {
	doneAll, total := tr.doneAll(), tr.total()
	done := doneAll == total
	if done {
		tr.rep.Duration = rn.cfg.Now().Sub(tr.start)
	}
	if rn.progress == nil || (!force && doneAll == 0) {
		return
	}
	p := Progress{
		Table: tr.rep.Table, ChunksDone: doneAll, ChunksTotal: total,
		Rows: tr.rowsBefore + tr.rep.Rows, EstimatedRows: tr.plan.EstimatedRows, Done: done,
	}
	if el := rn.cfg.Now().Sub(tr.start).Seconds(); el > 0 {
		p.RowsPerSec = float64(tr.rep.Rows) / el
	}
	if ran := doneAll - tr.rep.Skipped; !done && ran > 0 {
		perChunk := rn.cfg.Now().Sub(tr.start) / time.Duration(ran)
		p.ETA = perChunk * time.Duration(total-doneAll)
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
