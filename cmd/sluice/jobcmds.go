package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/jobs"
)

func init() {
	classifiers = append(classifiers, jobs.Classify)
}

// configFlag adds --config with the SLUICE_CONFIG default.
func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("SLUICE_CONFIG")
	if def == "" {
		def = "sluice.yaml"
	}
	return fs.String("config", def, "config file (env SLUICE_CONFIG)")
}

// jobEnv is a loaded config with outputs that mask its secrets.
type jobEnv struct {
	cfg            *jobs.Config
	stdout, stderr io.Writer
	logger         *slog.Logger
	secrets        []string
}

// loadJob loads the config and wraps stdout and stderr so that no secret of
// it can be printed, whatever a library puts into an error. Logs go to
// stderr.
func loadJob(env *cmdEnv, path string) (*jobEnv, error) {
	cfg, err := jobs.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	secrets := cfg.Secrets()
	je := &jobEnv{
		cfg:     cfg,
		stdout:  jobs.NewRedactor(env.stdout, secrets),
		stderr:  jobs.NewRedactor(env.stderr, secrets),
		secrets: secrets,
	}
	je.logger = jobs.NewLogger(cfg.Log, je.stderr)
	return je, nil
}

// fail returns err with secrets masked, for runMain to print.
func (je *jobEnv) fail(err error) error { return jobs.RedactError(err, je.secrets) }

// writeReport writes the run report to dest: "-" is stdout, "" nowhere.
func (je *jobEnv) writeReport(rep *jobs.Report, dest string) error {
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

// finishJob writes the report, logs the outcome, and returns the job's
// error (masked) for the exit code.
func (je *jobEnv) finishJob(rep *jobs.Report, err error, reportDest string) error {
	if werr := je.writeReport(rep, reportDest); werr != nil && err == nil {
		err = werr
	}
	if err == nil {
		je.logger.Info(rep.Job+" done", "duration_s", float64(rep.Duration)/1e9)
	}
	return je.fail(err)
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

const reportHelp = `The run report (JSON, documented in docs/operations.md) goes to --report FILE,
or stdout with --report -; logs go to stderr.`

const leaseHelp = `The job holds its lease in the lake while it runs (_sluice_leases/<job>, the
lease ` + "`sluice schedule`" + ` takes too; run takes ingest's and merge's), so cron ticks,
Airflow tasks and schedule daemons never run the same job at once. When another
run holds it, the command does nothing and exits 6, naming the holder and when its
lease expires; --wait D waits up to D for it instead. (Overlapping runs would be
safe, commits are atomic; the lease only saves wasted work.)`

// leaseWaitFlag adds --wait, how long a job waits for its lease.
func leaseWaitFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("wait", 0, "when another run holds this job's lease, wait up to this long for it (e.g. 10m) instead of exiting 6 at once")
}

func init() {
	register(&command{
		name:    "capture",
		summary: "stream a source database's changes into Kafka (long-running)",
		usage:   "--config sluice.yaml [--source NAME] [--metrics-addr ADDR]",
		help: `Captures one source of the config (sources:, chosen by --source when there are
several) into Kafka: PostgreSQL by logical replication (pgoutput), MySQL/MariaDB by
binlog. Events are Debezium-compatible JSON with schemas, one topic per table
(<topic_prefix>.<schema or db>.<table>); the source position is stored in
<topic_prefix>.sluice.positions in the same Kafka transaction as the events, so a
restart resumes exactly where the last commit ended.

MySQL/MariaDB: while the captured tables are idle, the stored position still
follows the binlog (other databases' commits) every sources[].heartbeat_interval
(default 10s; 0s off), with no event sent; PostgreSQL's slot follows the WAL
through keepalives.

Runs until SIGTERM or Ctrl-C, then stops cleanly (exit 0). Transient failures
restart the source with backoff. If the stored position is gone on the server
(binlog purged, replication slot dropped) it exits 5: the affected tables need a
backfill.`,
		run: runCapture,
	})
	register(&command{
		name:    "ingest",
		summary: "copy Kafka topics into the raw Delta table, exactly once",
		usage:   "--config sluice.yaml [--plan] [--continuous [--interval D]] [--report FILE|-] [--max-dead-letter-ratio R] [--workers N --worker I] [--wait D]",
		help: `Reads what the topics matching ingest.topics hold now (available-now) and appends
it to the raw Delta table, with the Kafka offsets in the same commit (exactly
once). Records that cannot be parsed go to the dead-letter table. --plan only
prints what a run would read, per partition, and writes nothing (and takes no
lease). --continuous repeats every --interval (default 1m) until SIGTERM, holding
the ingest lease throughout.

` + leaseHelp + `

` + reportHelp + `
Exit codes: 3 Kafka or the store unreachable / a lost commit race (retry), 4 more
dead letters than --max-dead-letter-ratio (the rest is committed), 5 the recorded
offsets no longer fit a partition (topic recreated or retention ran ahead), 6
another ingest holds the lease.`,
		run: runIngest,
	})
	register(&command{
		name:    "merge",
		summary: "merge the raw table into the SCD Type 1 tables",
		usage:   "--config sluice.yaml [--table db.table]... [--report FILE|-] [--wait D]",
		help: `Applies the raw table's commits that are newer than what each SCD1 table has
merged: latest row per primary key, deletes, schema evolution. --table (repeatable,
db.table or db.schema.table) restricts the run to those source tables. A table
that fails does not stop the others; the run then exits non-zero. With --table
the run still takes the whole merge lease.

` + leaseHelp + `

` + reportHelp,
		run: runMerge,
	})
	register(&command{
		name:    "run",
		summary: "one cron tick: ingest, then merge",
		usage:   "--config sluice.yaml [--report FILE|-] [--wait D]",
		help: `Runs ingest and then merge, with one combined report: what cron or an Airflow
task calls every few minutes. If ingest fails (other than a usage error), merge
still runs on what the raw table holds, and the exit code is ingest's.

` + leaseHelp + `

` + reportHelp,
		run: runRun,
	})
	register(&command{
		name:    "compact",
		summary: "rewrite the raw table's small files into large ones",
		usage:   "--config sluice.yaml [--report FILE|-] [--wait D]",
		help: `Rewrites the raw table's small files into files of ingest.target_file_mb,
sorted by (topic, ingest_ts). Safe beside running ingests and merges: the rows do
not change (dataChange=false).

` + leaseHelp + `

` + reportHelp,
		run: runCompact,
	})
}

func runCapture(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["capture"]
	fs := newFlags(c, env)
	cfgPath := configFlag(fs)
	source := fs.String("source", "", "the source to capture (its name in sources:); optional with one source")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics and /healthz (200 while capturing) on this address, e.g. :9109")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	je, err := loadJob(env, *cfgPath)
	if err != nil {
		return err
	}
	stats := &capture.Stats{}
	if *metricsAddr != "" {
		m := jobs.NewMetrics()
		name, err := jobs.SourceName(je.cfg, *source)
		if err != nil {
			return je.fail(err)
		}
		m.ObserveCapture(name, stats)
		stop, err := jobs.ServeMetrics(*metricsAddr, m, func() error { return ctx.Err() }, nil, je.logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	return je.fail(jobs.Capture(ctx, je.cfg, *source, stats, je.logger))
}

func runIngest(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["ingest"]
	fs := newFlags(c, env)
	cfgPath := configFlag(fs)
	plan := fs.Bool("plan", false, "print what a run would read per partition; write nothing")
	continuous := fs.Bool("continuous", false, "run again every --interval until stopped")
	interval := fs.Duration("interval", 0, "time between the starts of continuous runs (default 1m)")
	report := fs.String("report", "", "write the JSON run report to this file, or - for stdout")
	ratio := fs.Float64("max-dead-letter-ratio", -1, "fail (exit 4) when more than this fraction of records are dead letters (overrides ingest.max_dead_letter_ratio)")
	workers := fs.Int("workers", -1, "split the partitions between N ingest processes, each started with its own --worker (overrides ingest.workers)")
	worker := fs.Int("worker", -1, "which of the --workers processes this is, 0..N-1 (overrides ingest.worker)")
	wait := leaseWaitFlag(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ratio > 1 {
		return jobs.UsageError(fmt.Errorf("--max-dead-letter-ratio %v: want at most 1", *ratio))
	}
	je, err := loadJob(env, *cfgPath)
	if err != nil {
		return err
	}
	if *workers >= 0 {
		je.cfg.Ingest.Workers = *workers
	}
	if *worker >= 0 {
		je.cfg.Ingest.Worker = *worker
	}
	if w, n := je.cfg.Ingest.Worker, je.cfg.Ingest.Workers; n < 0 || w < 0 || (n > 0 && w >= n) || (n == 0 && w != 0) {
		return jobs.UsageError(fmt.Errorf("--worker %d --workers %d: want 0 <= worker < workers", w, n))
	}
	// Each worker holds its own lease (jobs.JobLeases), so workers run at once.
	opts := jobs.IngestOptions{PlanOnly: *plan, Continuous: *continuous, Interval: *interval}
	if *ratio >= 0 {
		opts.MaxDeadLetterRatio = ratio
	}
	if *plan && *report == "" {
		*report = "-" // a plan is only useful printed
	}
	if *plan {
		rep, err := jobs.Ingest(ctx, je.cfg, opts, je.logger) // read-only: no lease
		return je.finishJob(rep, err, *report)
	}
	rep, err := jobs.WithJobLease(ctx, je.cfg, "ingest", jobs.JobLeaseOptions{Wait: *wait}, je.logger, func(ctx context.Context) (*jobs.Report, error) {
		return jobs.Ingest(ctx, je.cfg, opts, je.logger)
	})
	return je.finishJob(rep, err, *report)
}

func runMerge(ctx context.Context, env *cmdEnv, args []string) error {
	var tables stringList
	return runLeasedJob(ctx, env, "merge", args, func(fs *flag.FlagSet) {
		fs.Var(&tables, "table", "merge only this source table (db.table or db.schema.table); repeatable")
	}, func(ctx context.Context, je *jobEnv) (*jobs.Report, error) {
		return jobs.Merge(ctx, je.cfg, tables, je.logger)
	})
}

func runRun(ctx context.Context, env *cmdEnv, args []string) error {
	return runLeasedJob(ctx, env, "run", args, nil, func(ctx context.Context, je *jobEnv) (*jobs.Report, error) {
		return jobs.RunOnce(ctx, je.cfg, je.logger)
	})
}

func runCompact(ctx context.Context, env *cmdEnv, args []string) error {
	return runLeasedJob(ctx, env, "compact", args, nil, func(ctx context.Context, je *jobEnv) (*jobs.Report, error) {
		return jobs.Compact(ctx, je.cfg, je.logger)
	})
}

// runLeasedJob is the body of a one-shot job command: --config, the
// command's own flags (addFlags, may be nil), --report and --wait; the job
// runs under the job's lake leases and its report is written as for every
// job.
func runLeasedJob(ctx context.Context, env *cmdEnv, name string, args []string, addFlags func(*flag.FlagSet), job func(context.Context, *jobEnv) (*jobs.Report, error)) error {
	fs := newFlags(commands[name], env)
	cfgPath := configFlag(fs)
	if addFlags != nil {
		addFlags(fs)
	}
	report := fs.String("report", "", "write the JSON run report to this file, or - for stdout")
	wait := leaseWaitFlag(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	je, err := loadJob(env, *cfgPath)
	if err != nil {
		return err
	}
	rep, err := jobs.WithJobLease(ctx, je.cfg, name, jobs.JobLeaseOptions{Wait: *wait}, je.logger, func(ctx context.Context) (*jobs.Report, error) {
		return job(ctx, je)
	})
	return je.finishJob(rep, err, *report)
}
