package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/snapshot"
	mysqlsnap "github.com/sluicehq/sluice/snapshot/mysql"
	"github.com/sluicehq/sluice/snapshot/postgres"
)

// DefaultSnapshotID is the snapshot id of `sluice snapshot` without
// --snapshot-id: the initial load of each table. It is fixed, so a plain
// rerun after a kill resumes (committed chunks are skipped), and a rerun
// after success does nothing for tables already loaded; tables added to
// the config later get their own plan under the same id. Reloading a table
// is a backfill, which takes a new id each time.
const DefaultSnapshotID = "initial"

// SnapshotOptions are the command-line choices of `sluice snapshot` and
// `sluice backfill`; zero values take the snapshot: section's defaults.
type SnapshotOptions struct {
	// Tables restricts the run to these tables: db.schema.table or
	// schema.table (PostgreSQL), db.table (MySQL/MariaDB). Empty: every
	// table each source captures (its include/exclude).
	Tables []string
	// SnapshotID resumes that snapshot; empty takes DefaultSnapshotID
	// (snapshot) or a new id (backfill).
	SnapshotID string
	// Where is a SQL predicate in the source's dialect limiting the rows
	// read; it needs exactly one table.
	Where         string
	Parallel      int
	ChunkRows     int64
	MaxRowsPerSec *int64
	// NoCaptureCheck skips the check that capture is set up for the
	// source. Changes committed after the snapshot's read point may then
	// never reach the lake (see docs/snapshot.md).
	NoCaptureCheck bool
	// Progress, when not nil, sees every progress event, serialized.
	Progress func(source string, p snapshot.Progress)
	// SkipRecheck is snapshot.Config.SkipRecheck: tests only.
	SkipRecheck bool
}

// SnapshotReport is the JSON report of `sluice snapshot` and `sluice
// backfill`: the common job fields and what was loaded.
type SnapshotReport struct {
	Report
	Snapshot *SnapshotResult `json:"snapshot,omitempty"`
}

// SnapshotResult is what a snapshot or backfill run did.
type SnapshotResult struct {
	SnapshotID string           `json:"snapshot_id"`
	Where      string           `json:"where,omitempty"`
	Sources    []SourceSnapshot `json:"sources"`
	Rows       int64            `json:"rows"` // written by this run
	Files      int              `json:"files"`
	Bytes      int64            `json:"bytes"`
}

// SourceSnapshot is one source's part of a SnapshotResult.
type SourceSnapshot struct {
	Source  string                `json:"source"`
	Type    string                `json:"type"`
	Capture CaptureCheck          `json:"capture"`
	Tables  []SnapshotTableReport `json:"tables"`
}

// CaptureCheck says what was found about the source's capture before
// reading: checked false with --no-capture-check.
type CaptureCheck struct {
	Checked bool   `json:"checked"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail"`
}

// SnapshotTableReport is snapshot.TableReport for JSON.
type SnapshotTableReport struct {
	Table         string   `json:"table"`
	Topic         string   `json:"topic"`
	Chunks        int      `json:"chunks"`
	ChunksSkipped int      `json:"chunks_skipped"` // committed by an earlier run
	Rows          int64    `json:"rows"`
	Files         int      `json:"files"`
	Bytes         int64    `json:"bytes"`
	Commits       []int64  `json:"commits"`
	Positions     []string `json:"positions"` // ordering keys of the read points used
	// OneView: all chunks read in one view (snapshot.partial_images);
	// ChunksReread: chunks an earlier run committed that this run read
	// again, since a one-view table found partly loaded is read in full.
	OneView      bool `json:"one_view,omitempty"`
	ChunksReread int  `json:"chunks_reread,omitempty"`
	// RecheckRows: rows the recheck pass re-read (PostgreSQL tables read
	// in several views; see docs/snapshot.md).
	RecheckRows int64           `json:"recheck_rows,omitempty"`
	Duration    ingest.Duration `json:"duration"`
}

// WriteJSON writes the report as indented JSON.
func (r *SnapshotReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CaptureNotReadyError: capture is not set up so that every change after
// the snapshot's read point reaches the lake. ExitNeedsAction.
type CaptureNotReadyError struct {
	Source string
	Reason string
}

func (e *CaptureNotReadyError) Error() string {
	return fmt.Sprintf("source %s: capture is not ready: %s (start `sluice capture --source %s` first, or pass --no-capture-check and accept that changes after the snapshot may be missed)",
		e.Source, e.Reason, e.Source)
}

// ClassifySnapshot is the Classifier for snapshot and backfill errors.
func ClassifySnapshot(err error) (int, bool) {
	var nr *CaptureNotReadyError
	switch {
	case errors.As(err, &nr):
		return ExitNeedsAction, true
	case errors.Is(err, snapshot.ErrPlanMismatch):
		return ExitUsage, true
	}
	return 0, false
}

// Snapshot loads the existing rows of the configured sources' tables (or
// opts.Tables) into the raw table, as op "r" rows ordered against the
// change stream; the next merge applies them. The report is never nil.
func Snapshot(ctx context.Context, cfg *Config, opts SnapshotOptions, logger *slog.Logger) (*SnapshotReport, error) {
	if opts.SnapshotID == "" {
		opts.SnapshotID = DefaultSnapshotID
	}
	return runSnapshotJob(ctx, "snapshot", cfg, opts, logger)
}

func runSnapshotJob(ctx context.Context, job string, cfg *Config, opts SnapshotOptions, logger *slog.Logger) (*SnapshotReport, error) {
	rep := &SnapshotReport{Report: Report{Job: job, StartedAt: time.Now()}}
	err := runSnapshot(ctx, cfg, opts, rep, logger)
	rep.finish(err, cfg.Secrets())
	rep.ExitCode = ExitCode(err, ClassifySnapshot, Classify)
	return rep, err
}

// snapshotSource is one configured source and the tables to load from it.
type snapshotSource struct {
	cfg    *SourceConfig
	db     string
	tables []string // schema.table (PostgreSQL)
}

func runSnapshot(ctx context.Context, cfg *Config, opts SnapshotOptions, rep *SnapshotReport, logger *slog.Logger) error {
	if opts.Where != "" && len(opts.Tables) != 1 {
		return UsageError(errors.New("--where needs exactly one --table"))
	}
	sc := snapshot.Config{
		SnapshotID:      opts.SnapshotID,
		Parallel:        orDefault(opts.Parallel, cfg.Snapshot.Parallel),
		ChunkRows:       orDefault(opts.ChunkRows, cfg.Snapshot.ChunkRows),
		MaxRowsPerSec:   cfg.Snapshot.MaxRowsPerSec,
		ViewMaxAge:      cfg.Snapshot.ViewMaxAge,
		TargetFileBytes: int64(cfg.Snapshot.TargetFileMB) << 20,
		PartialImages:   snapshot.PartialImages(cfg.Snapshot.PartialImages),
		SkipRecheck:     opts.SkipRecheck,
	}
	if opts.MaxRowsPerSec != nil {
		sc.MaxRowsPerSec = *opts.MaxRowsPerSec
	}
	rep.Snapshot = &SnapshotResult{SnapshotID: opts.SnapshotID, Where: opts.Where}
	sources, err := resolveTables(ctx, cfg, opts.Tables, logger)
	if err != nil {
		return err
	}
	lk, err := openLake(ctx, cfg, logger)
	if err != nil {
		return err
	}
	for _, s := range sources {
		ss := SourceSnapshot{Source: s.cfg.Name, Type: s.cfg.Type}
		ss.Capture, err = checkCapture(ctx, cfg, s, opts.NoCaptureCheck, logger)
		if err != nil {
			rep.Snapshot.Sources = append(rep.Snapshot.Sources, ss)
			return err
		}
		src, err := openSnapshotSource(ctx, s, sc.Parallel, logger)
		if err != nil {
			rep.Snapshot.Sources = append(rep.Snapshot.Sources, ss)
			return err
		}
		sc.TopicPrefix = s.cfg.TopicPrefix
		sc.Where = nil
		if opts.Where != "" {
			id := s.tables[0] // MySQL/MariaDB: db.table, the TableID
			if s.cfg.Type == "postgres" {
				id = s.db + "." + id
			}
			sc.Where = map[string]string{id: opts.Where}
		}
		var progress func(snapshot.Progress)
		if opts.Progress != nil {
			name := s.cfg.Name
			progress = func(p snapshot.Progress) { opts.Progress(name, p) }
		}
		logger.Info("snapshot starts", "source", s.cfg.Name, "snapshot_id", sc.SnapshotID, "tables", len(s.tables), "parallel", sc.Parallel, "chunk_rows", sc.ChunkRows, "partial_images", sc.PartialImages)
		r, err := snapshot.Run(ctx, src, lk.raw, sc, progress, logger)
		src.Close()
		if r != nil {
			for _, t := range r.Tables {
				ss.Tables = append(ss.Tables, SnapshotTableReport{
					Table: t.Table, Topic: t.Topic, Chunks: t.Chunks, ChunksSkipped: t.Skipped,
					Rows: t.Rows, Files: t.Files, Bytes: t.Bytes, Commits: t.Commits, Positions: t.Views,
					OneView: t.OneView, ChunksReread: t.Reread, RecheckRows: t.RecheckRows,
					Duration: ingest.Duration(t.Duration),
				})
			}
			rep.Snapshot.Rows += r.Rows
			rep.Snapshot.Files += r.Files
			rep.Snapshot.Bytes += r.Bytes
		}
		rep.Snapshot.Sources = append(rep.Snapshot.Sources, ss)
		if err != nil {
			return fmt.Errorf("snapshot %s of source %s: %w", sc.SnapshotID, s.cfg.Name, err)
		}
	}
	return nil
}

// orDefault returns v when set, else def.
func orDefault[T int | int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// closingSource is a snapshot.Source with its connections to close.
type closingSource interface {
	snapshot.Source
	Close()
}

func openSnapshotSource(ctx context.Context, s snapshotSource, parallel int, logger *slog.Logger) (closingSource, error) {
	switch s.cfg.Type {
	case "postgres":
		src, err := postgres.New(ctx, postgres.Config{DSN: s.cfg.DSN.Reveal(), Tables: s.tables, MaxConns: int32(parallel) + 1}, logger)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", s.cfg.Name, err)
		}
		return src, nil
	case "mysql", "mariadb":
		pw, err := secretValue(s.cfg.Password, s.cfg.PasswordFile, "sources."+s.cfg.Name+".password")
		if err != nil {
			return nil, err
		}
		flavor := mysqlsnap.FlavorMySQL
		if s.cfg.Type == "mariadb" {
			flavor = mysqlsnap.FlavorMariaDB
		}
		src, err := mysqlsnap.New(ctx, mysqlsnap.Config{Addr: s.cfg.Addr, User: s.cfg.User, Password: pw, Flavor: flavor, Tables: s.tables, MaxConns: parallel + 2}, logger)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", s.cfg.Name, err)
		}
		return mysqlSource{src}, nil
	}
	return nil, UsageError(fmt.Errorf("source %s: unknown type %q", s.cfg.Name, s.cfg.Type))
}

// mysqlSource adapts snapshot/mysql's Close (which returns an error).
type mysqlSource struct{ *mysqlsnap.Source }

func (m mysqlSource) Close() { _ = m.Source.Close() }

// resolveTables lists, per source, the tables to load: those the source
// captures (include/exclude), restricted to names when given. A name that
// matches no captured table of any source is a usage error naming it.
func resolveTables(ctx context.Context, cfg *Config, names []string, logger *slog.Logger) ([]snapshotSource, error) {
	if len(cfg.Sources) == 0 {
		return nil, UsageError(&FieldError{"sources", "no source configured"})
	}
	found := map[string]bool{}
	var out []snapshotSource
	for i := range cfg.Sources {
		sc := &cfg.Sources[i]
		filter, err := capture.NewTableFilter(nil, sc.Include, sc.Exclude)
		if err != nil {
			return nil, UsageError(fmt.Errorf("sources %s: %w", sc.Name, err))
		}
		if sc.Type != "postgres" {
			// MySQL/MariaDB: the server's base tables ("db.table") the
			// source's filter captures, restricted to names when given.
			pw, err := secretValue(sc.Password, sc.PasswordFile, "sources."+sc.Name+".password")
			if err != nil {
				return nil, err
			}
			all, err := mysqlsnap.ListTables(ctx, mysqlsnap.Config{Addr: sc.Addr, User: sc.User, Password: pw})
			if err != nil {
				return nil, fmt.Errorf("source %s: %w", sc.Name, err)
			}
			s := snapshotSource{cfg: sc}
			for _, t := range all {
				if !filter.Match(t) || (len(names) > 0 && !slices.Contains(names, t)) {
					continue
				}
				found[t] = true
				s.tables = append(s.tables, t)
			}
			if len(s.tables) > 0 {
				s.db, _, _ = strings.Cut(s.tables[0], ".")
				out = append(out, s)
			}
			continue
		}
		db, all, err := postgres.ListTables(ctx, sc.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", sc.Name, err)
		}
		s := snapshotSource{cfg: sc, db: db}
		for _, t := range all {
			if !filter.Match(t) {
				continue
			}
			if len(names) > 0 {
				hit := false
				for _, n := range []string{db + "." + t, t} {
					if slices.Contains(names, n) {
						found[n], hit = true, true
					}
				}
				if !hit {
					continue
				}
			}
			s.tables = append(s.tables, t)
		}
		if len(s.tables) > 0 {
			out = append(out, s)
		}
	}
	var missing []string
	for _, n := range names {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, UsageError(fmt.Errorf("--table %s: no such table captured by a source of the config (names are db.schema.table or schema.table for PostgreSQL, db.table for MySQL/MariaDB)", strings.Join(missing, ", ")))
	}
	if len(out) == 0 {
		return nil, UsageError(errors.New("no table to snapshot: no source captures a table"))
	}
	return out, nil
}

// checkCapture makes sure that every change committed after the
// snapshot's read points reaches the lake: PostgreSQL — capture's slot
// exists (the server then retains every change from its position on,
// whether or not capture is connected right now) and its publication
// includes the tables; MySQL/MariaDB — the binlog is on in row format and
// capture has stored a position. A failure is a *CaptureNotReadyError.
func checkCapture(ctx context.Context, cfg *Config, s snapshotSource, skip bool, logger *slog.Logger) (CaptureCheck, error) {
	if skip {
		logger.Warn("capture check skipped (--no-capture-check): changes committed after the snapshot may be missing from the lake until a backfill", "source", s.cfg.Name)
		return CaptureCheck{Detail: "skipped (--no-capture-check)"}, nil
	}
	fail := func(reason string) (CaptureCheck, error) {
		return CaptureCheck{Checked: true, Detail: reason}, &CaptureNotReadyError{Source: s.cfg.Name, Reason: reason}
	}
	switch s.cfg.Type {
	case "postgres":
		st, err := postgres.CheckCapture(ctx, s.cfg.DSN.Reveal(), s.cfg.Slot, s.cfg.Publication)
		if err != nil {
			return CaptureCheck{Checked: true, Detail: err.Error()}, fmt.Errorf("source %s: capture check: %w", s.cfg.Name, err)
		}
		switch {
		case !st.SlotExists:
			return fail(fmt.Sprintf("replication slot %q does not exist", st.Slot))
		case st.SlotLost:
			return fail(fmt.Sprintf("replication slot %q is lost (wal_status lost): capture must be reset", st.Slot))
		case st.SlotPlugin != "pgoutput":
			return fail(fmt.Sprintf("replication slot %q uses plugin %q, not pgoutput", st.Slot, st.SlotPlugin))
		case !st.PublicationExists:
			return fail(fmt.Sprintf("publication %q does not exist", st.Publication))
		}
		if !st.AllTables {
			for _, t := range s.tables {
				if !st.Published[t] {
					return fail(fmt.Sprintf("table %s is not in publication %q", t, st.Publication))
				}
			}
		}
		detail := fmt.Sprintf("slot %q exists and is active (capture connected)", st.Slot)
		if !st.SlotActive {
			detail = fmt.Sprintf("slot %q exists but is not active: changes are retained, and reach the lake once capture runs", st.Slot)
			logger.Warn("snapshot: capture is not connected to its slot; changes are retained but the lake lags until it runs", "source", s.cfg.Name, "slot", st.Slot)
		}
		logger.Info("capture check passed", "source", s.cfg.Name, "detail", detail)
		return CaptureCheck{Checked: true, OK: true, Detail: detail}, nil
	case "mysql", "mariadb":
		return checkBinlogCapture(ctx, cfg, s, fail)
	}
	return fail("unknown source type " + s.cfg.Type)
}

// checkBinlogCapture: capture/mysql's own server check (log_bin on,
// binlog_format ROW), then the position capture stored in Kafka.
func checkBinlogCapture(ctx context.Context, cfg *Config, s snapshotSource, fail func(string) (CaptureCheck, error)) (CaptureCheck, error) {
	open, err := sourceOpener(s.cfg, nil)
	if err != nil {
		return CaptureCheck{}, err
	}
	src, err := open(ctx)
	if err != nil {
		return fail(err.Error())
	}
	src.Close()
	if len(cfg.Kafka.Brokers) == 0 {
		return fail("kafka.brokers is not configured, so capture's stored position cannot be read")
	}
	kc, err := captureKafka(cfg.Kafka)
	if err != nil {
		return CaptureCheck{}, err
	}
	// Read-only: fences no running capture and creates no topic.
	pos, err := capture.ReadPosition(ctx, kc, s.cfg.TopicPrefix+".sluice.positions", s.cfg.Name, nil)
	if err != nil {
		return CaptureCheck{Checked: true, Detail: err.Error()}, fmt.Errorf("source %s: capture check: %w", s.cfg.Name, err)
	}
	if pos == "" {
		return fail("capture has stored no binlog position yet")
	}
	return CaptureCheck{Checked: true, OK: true, Detail: "binlog on in row format; capture position " + pos}, nil
}
