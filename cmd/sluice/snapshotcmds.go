package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/snapshot"
)

func init() {
	classifiers = append(classifiers, jobs.ClassifySnapshot)
	register(&command{
		name:    "snapshot",
		summary: "load the existing rows of source tables (initial load), resumable",
		usage:   "--config sluice.yaml [--table T]... [--parallel N] [--chunk-rows N] [--max-rows-per-sec N] [--snapshot-id ID] [--no-capture-check] [--progress auto|text|json|none] [--report FILE|-] [--wait D]",
		help: `Reads the rows the source tables hold now, in parallel primary-key chunks, and
appends them to the raw table as Debezium op "r" rows, each ordered exactly
against the change stream (PostgreSQL: the consistent point of an exported
snapshot). The next ` + "`sluice merge`" + ` applies them; a change captured after the read
point wins over the snapshot row, an older one loses. Streaming goes on meanwhile;
no table lock is taken, and no transaction lasts longer than one chunk.

Tables are the ones each source captures (include/exclude), or those named by
--table (repeatable: db.schema.table or schema.table for PostgreSQL).

Resume: every chunk commits on its own. The snapshot id defaults to "initial", so
rerunning the same command after a kill or failure skips the committed chunks and
loads the rest; rerunning after success does nothing for tables already loaded.
To reload a table, use ` + "`sluice backfill`" + `.

Capture check: before reading, the command checks that capture is set up so that
no change after the snapshot's read point can be missed — PostgreSQL: the
source's replication slot exists (active or not; it retains the changes) and its
publication includes the tables; MySQL/MariaDB: binlog on in ROW format and a
capture position stored in Kafka. Otherwise it exits 5. --no-capture-check skips
it: changes committed after the read point are then lost to the lake unless
capture's slot/binlog position already covers them.

Progress: on a terminal, one refreshed line per table (rows, rows/s, ETA);
otherwise one JSON object per line on stderr. The JSON run report goes to stdout
(--report -, the default) or to --report FILE.

Lease: a run holds the lake lease snapshot-<id> (_sluice_leases/snapshot-<id>,
shared with backfill), so two runs of one snapshot id never run at once; runs of
different ids may. When another run holds it, the command does nothing and exits
6; --wait D waits up to D for it instead.
Exit codes: 2 bad flags/config/unknown table, 3 retryable (source or store
unreachable), 5 capture not ready or the snapshot id was planned differently,
6 another run of this snapshot id holds its lease.`,
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			return runSnapshotCmd(ctx, env, "snapshot", args)
		},
	})
	register(&command{
		name:    "backfill",
		summary: "reload a table, or a slice of it (--where), while streaming goes on",
		usage:   "--config sluice.yaml --table T [--table T]... [--where PREDICATE] [--parallel N] [--chunk-rows N] [--max-rows-per-sec N] [--snapshot-id ID] [--no-capture-check] [--progress auto|text|json|none] [--report FILE|-] [--wait D]",
		help: `Reloads the named tables exactly as ` + "`sluice snapshot`" + ` loads them, ordered against
the change stream, so the next merge repairs the SCD1 table (rows that were lost
or damaged in the lake) without stopping capture. --where limits the rows read
with a SQL predicate in the source's dialect, e.g. --where "id BETWEEN 10 AND 20";
it needs exactly one --table and runs with the source credentials as written.

Rows deleted at the source are not removed by a backfill (it only reads rows that
exist); their delete events do that.

Each run takes a new snapshot id (backfill-<time>-<random>), printed in the log
and the report's snapshot.snapshot_id; after a kill, pass it with --snapshot-id
to resume instead of starting over.

Capture check, progress, report and exit codes as for ` + "`sluice snapshot`" + `.`,
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			return runSnapshotCmd(ctx, env, "backfill", args)
		},
	})
}

func runSnapshotCmd(ctx context.Context, env *cmdEnv, name string, args []string) error {
	c := commands[name]
	fs := newFlags(c, env)
	cfgPath := configFlag(fs)
	var tables stringList
	fs.Var(&tables, "table", "load only this table (db.schema.table or schema.table); repeatable")
	parallel := fs.Int("parallel", 0, "chunks read at once across all tables (default snapshot.parallel)")
	chunkRows := fs.Int64("chunk-rows", 0, "target rows per chunk, the unit of resume (default snapshot.chunk_rows)")
	maxRate := fs.Int64("max-rows-per-sec", -1, "throttle all workers together to this many rows/s; 0 unlimited (default snapshot.max_rows_per_sec)")
	id := fs.String("snapshot-id", "", "resume this snapshot id (snapshot default \"initial\"; backfill default a new id)")
	noCheck := fs.Bool("no-capture-check", false, "do not check that capture is set up first (changes after the snapshot may be missed)")
	progress := fs.String("progress", "auto", "progress display: auto (text on a terminal, else json), text, json or none")
	report := fs.String("report", "-", "write the JSON run report to this file, or - for stdout")
	wait := leaseWaitFlag(fs)
	var where *string
	if name == "backfill" {
		where = fs.String("where", "", "SQL predicate limiting the rows read (needs exactly one --table)")
	}
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *parallel < 0 || *chunkRows < 0 {
		return jobs.UsageError(fmt.Errorf("--parallel and --chunk-rows must be positive"))
	}
	je, err := loadJob(env, *cfgPath)
	if err != nil {
		return err
	}
	opts := jobs.SnapshotOptions{
		Tables: tables, SnapshotID: *id, Parallel: *parallel, ChunkRows: *chunkRows,
		NoCaptureCheck: *noCheck,
	}
	if *maxRate >= 0 {
		opts.MaxRowsPerSec = maxRate
	}
	if where != nil {
		opts.Where = *where
	}
	mode := *progress
	if mode == "auto" {
		mode = "json"
		if isTerminal(env.stderr) {
			mode = "text"
		}
	}
	switch mode {
	case "text":
		pp := &progressPrinter{w: je.stderr}
		opts.Progress = pp.text
		defer pp.end()
	case "json":
		pp := &progressPrinter{w: je.stderr}
		opts.Progress = pp.json
	case "none":
	default:
		return jobs.UsageError(fmt.Errorf("--progress %q: want auto, text, json or none", *progress))
	}
	// The lease is named by the snapshot id, so the id is chosen here.
	if opts.SnapshotID == "" {
		opts.SnapshotID = jobs.DefaultSnapshotID
		if name == "backfill" {
			opts.SnapshotID = jobs.NewBackfillID(time.Now())
		}
	}
	var rep *jobs.SnapshotReport
	lopts := jobs.JobLeaseOptions{Wait: *wait, Leases: []string{jobs.SnapshotLease(opts.SnapshotID)}}
	base, err := jobs.WithJobLease(ctx, je.cfg, name, lopts, je.logger, func(ctx context.Context) (*jobs.Report, error) {
		var err error
		if name == "backfill" {
			rep, err = jobs.Backfill(ctx, je.cfg, opts, je.logger)
		} else {
			rep, err = jobs.Snapshot(ctx, je.cfg, opts, je.logger)
		}
		if rep == nil {
			return nil, err
		}
		return &rep.Report, err
	})
	if rep == nil {
		// fn did not run (lease held, warehouse unreachable).
		rep = &jobs.SnapshotReport{Report: *base}
	}
	if werr := writeSnapshotReport(je, rep, *report); werr != nil && err == nil {
		err = werr
	}
	if err == nil {
		je.logger.Info(name+" done", "snapshot_id", rep.Snapshot.SnapshotID, "rows", rep.Snapshot.Rows, "duration_s", float64(rep.Duration)/1e9)
	}
	return je.fail(err)
}

func writeSnapshotReport(je *jobEnv, rep *jobs.SnapshotReport, dest string) error {
	switch dest {
	case "":
		return nil
	case "-":
		return rep.WriteJSON(je.stdout)
	}
	f, err := os.Create(dest)
	if err != nil {
		return jobs.UsageError(fmt.Errorf("report: %w", err))
	}
	if err := rep.WriteJSON(jobs.NewRedactor(f, je.secrets)); err != nil {
		f.Close()
		return fmt.Errorf("report %s: %w", dest, err)
	}
	return f.Close()
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressPrinter renders snapshot progress events: a line per table
// rewritten in place on a terminal, or one JSON object per line.
type progressPrinter struct {
	w    io.Writer
	mu   sync.Mutex
	last string // table of the line being rewritten, "" at a line start
}

func (p *progressPrinter) text(source string, e snapshot.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != "" && p.last != e.Table {
		fmt.Fprintln(p.w)
	}
	total := "?"
	if e.EstimatedRows > 0 {
		total = fmt.Sprintf("~%d", e.EstimatedRows)
	}
	eta := "-"
	if e.ETA > 0 {
		eta = e.ETA.Round(time.Second).String()
	}
	state := fmt.Sprintf("ETA %s", eta)
	if e.Done {
		state = "done"
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s: %d/%s rows, chunks %d/%d, %.0f rows/s, %s",
		source, e.Table, e.Rows, total, e.ChunksDone, e.ChunksTotal, e.RowsPerSec, state)
	p.last = e.Table
	if e.Done {
		fmt.Fprintln(p.w)
		p.last = ""
	}
}

func (p *progressPrinter) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != "" {
		fmt.Fprintln(p.w)
		p.last = ""
	}
}

// progressLine is one JSON progress line.
type progressLine struct {
	Progress      string  `json:"progress"` // always "snapshot"
	Source        string  `json:"source"`
	Table         string  `json:"table"`
	ChunksDone    int     `json:"chunks_done"`
	ChunksTotal   int     `json:"chunks_total"`
	Rows          int64   `json:"rows"`
	EstimatedRows int64   `json:"estimated_rows"`
	RowsPerSec    float64 `json:"rows_per_sec"`
	ETASeconds    float64 `json:"eta_s"`
	Done          bool    `json:"done"`
}

func (p *progressPrinter) json(source string, e snapshot.Progress) {
	b, err := json.Marshal(progressLine{
		Progress: "snapshot", Source: source, Table: e.Table, ChunksDone: e.ChunksDone, ChunksTotal: e.ChunksTotal,
		Rows: e.Rows, EstimatedRows: e.EstimatedRows, RowsPerSec: e.RowsPerSec, ETASeconds: e.ETA.Seconds(), Done: e.Done,
	})
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(append(b, '\n'))
}
