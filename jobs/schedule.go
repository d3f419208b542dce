package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// The scheduler runs jobs on cron schedules, as `sluice schedule`.
//
// Invariants:
//   - A job never overlaps itself: in this process a tick that finds the
//     previous run still going is skipped (logged, counted in
//     sluice_job_skipped_total{reason="overlap"}), never queued; across
//     processes the job's leases (lease.go) decide, and a tick that finds a
//     lease held elsewhere is skipped the same way (reason="lease_held").
//   - Ticks are computed from the clock when the previous tick fired, so a
//     long run or a suspended machine never causes a burst of catch-up runs.
//   - Every run ends with a JSON run report in the log and its metrics.
//   - Shutdown (the context of Run ends) starts no new run, waits
//     ShutdownGrace for running ones, then cancels them; leases are
//     released on the way out.

// Schedule is when a job runs: cron.Schedule, or anything else with Next
// (tests use sub-second intervals, which cron's @every rounds up to 1s).
type Schedule interface {
	// Next returns the first activation strictly after t; the zero time
	// means never again.
	Next(t time.Time) time.Time
}

// ScheduledJob is one job of a Scheduler.
type ScheduledJob struct {
	// Name labels logs and metrics.
	Name     string
	Spec     string // the cron expression, for logs
	Schedule Schedule
	// Timeout cancels a run that takes longer; 0 means none.
	Timeout time.Duration
	// Leases are the lake leases a run must hold (ingest, merge, ...).
	Leases []string
	// Run does the work. It may return a nil report; the error decides the
	// run's result.
	Run func(ctx context.Context) (*Report, error)
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Leases makes jobs exclusive across processes; nil keeps exclusion
	// within this process only.
	Leases *Leases
	// Metrics receives the runs' metrics; nil creates a fresh set.
	Metrics *Metrics
	Logger  *slog.Logger
	// ShutdownGrace is how long shutdown waits before cancelling runs.
	ShutdownGrace time.Duration
	// UnhealthyAfter is the number of consecutive failures of one job that
	// makes Health report an error; 0 means never.
	UnhealthyAfter int
	// Secrets are masked in logged reports and errors.
	Secrets []string
}

// Scheduler runs ScheduledJobs on their schedules. Create with
// NewScheduler; Run it once.
type Scheduler struct {
	jobs    []*jobState
	opts    SchedulerOptions
	metrics *Metrics
	logger  *slog.Logger

	alive    atomic.Bool
	stopping atomic.Bool
}

// jobState is one job's runtime state.
type jobState struct {
	job     ScheduledJob
	running atomic.Bool

	mu             sync.Mutex
	failuresInARow int
	lastResult     string
	lastError      string
}

// NewScheduler checks jobs and returns a scheduler for them.
func NewScheduler(jobs []ScheduledJob, opts SchedulerOptions) (*Scheduler, error) {
	if len(jobs) == 0 {
		return nil, errors.New("schedule: no jobs")
	}
	s := &Scheduler{opts: opts, metrics: opts.Metrics, logger: opts.Logger}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Name == "" || j.Schedule == nil || j.Run == nil {
			return nil, fmt.Errorf("schedule: job %q needs a name, a schedule and a run function", j.Name)
		}
		if seen[j.Name] {
			return nil, fmt.Errorf("schedule: job %q twice", j.Name)
		}
		seen[j.Name] = true
		s.jobs = append(s.jobs, &jobState{job: j})
		s.metrics.declareJob(j.Name)
	}
	return s, nil
}

// Metrics returns the scheduler's metrics.
func (s *Scheduler) Metrics() *Metrics { return s.metrics }

// Health returns nil while the scheduler loop runs and no job failed
// UnhealthyAfter times in a row; otherwise the reason.
func (s *Scheduler) Health() error {
	if s.stopping.Load() {
		return errors.New("scheduler: shutting down")
	}
	if !s.alive.Load() {
		return errors.New("scheduler: not running")
	}
	if s.opts.UnhealthyAfter <= 0 {
		return nil
	}
	for _, js := range s.jobs {
		js.mu.Lock()
		n, res, msg := js.failuresInARow, js.lastResult, js.lastError
		js.mu.Unlock()
		if n >= s.opts.UnhealthyAfter {
			return fmt.Errorf("job %s: %d failed runs in a row (last: %s: %s)", js.job.Name, n, res, truncate(msg, 300))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Run runs the jobs until ctx ends, then shuts down gracefully. It returns
// nil after a clean shutdown and an error if runs did not stop within the
// grace period and as long again after being cancelled.
func (s *Scheduler) Run(ctx context.Context) error {
	// Runs get a context of their own: shutdown first waits for them, and
	// only cancels them after the grace period.
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)
	var runs, loops sync.WaitGroup
	s.alive.Store(true)
	for _, js := range s.jobs {
		s.logger.Info("schedule: job scheduled", "job", js.job.Name, "cron", js.job.Spec, "next", js.job.Schedule.Next(time.Now()))
		loops.Add(1)
		go func() {
			defer loops.Done()
			s.loop(ctx, runCtx, js, &runs)
		}()
	}
	<-ctx.Done()
	s.stopping.Store(true)
	loops.Wait() // no tick starts a run from here on
	done := make(chan struct{})
	go func() { runs.Wait(); close(done) }()
	select {
	case <-done:
		s.logger.Info("schedule: stopped")
		return nil
	case <-time.After(s.opts.ShutdownGrace):
	}
	s.logger.Warn("schedule: shutdown grace period over; cancelling running jobs", "grace", s.opts.ShutdownGrace)
	cancelRuns(errShutdown)
	select {
	case <-done:
		s.logger.Info("schedule: stopped")
		return nil
	case <-time.After(max(s.opts.ShutdownGrace, 5*time.Second)):
		return errors.New("schedule: running jobs did not stop after being cancelled")
	}
}

// errShutdown is the cause of runs cancelled at the end of the grace period.
var errShutdown = errors.New("scheduler shutting down")

// loop fires js on its schedule until ctx ends.
func (s *Scheduler) loop(ctx, runCtx context.Context, js *jobState, runs *sync.WaitGroup) {
	for {
		next := js.job.Schedule.Next(time.Now())
		if next.IsZero() {
			s.logger.Info("schedule: job has no further activations", "job", js.job.Name)
			return
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if ctx.Err() != nil {
			return
		}
		if !js.running.CompareAndSwap(false, true) {
			s.logger.Warn("schedule: skipping a tick: the previous run is still going", "job", js.job.Name, "tick", next)
			s.metrics.skip(js.job.Name, SkipOverlap)
			continue
		}
		runs.Add(1)
		go func() {
			defer runs.Done()
			defer js.running.Store(false)
			s.execute(runCtx, js)
		}()
	}
}

// execute runs js once: under its leases, with its timeout, then logs the
// report and records the metrics.
func (s *Scheduler) execute(ctx context.Context, js *jobState) {
	name := js.job.Name
	s.metrics.setRunning(name, true)
	defer s.metrics.setRunning(name, false)
	if js.job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, js.job.Timeout, errTimeout)
		defer cancel()
	}
	started := time.Now()
	var rep *Report
	var jobCtx context.Context
	work := func(c context.Context) error {
		jobCtx = c
		s.metrics.setLeaseHeld(name, s.opts.Leases != nil)
		defer s.metrics.setLeaseHeld(name, false)
		var err error
		rep, err = js.job.Run(c)
		return err
	}
	var err error
	if s.opts.Leases != nil && len(js.job.Leases) > 0 {
		err = s.opts.Leases.Hold(ctx, js.job.Leases, work)
	} else {
		err = work(ctx)
	}
	if jobCtx == nil && errors.Is(err, ErrLeaseHeld) {
		s.logger.Info("schedule: skipping a tick: the job runs elsewhere", "job", name, "lease", RedactError(err, s.opts.Secrets).Error())
		s.metrics.skip(name, SkipLeaseHeld)
		return
	}
	if jobCtx == nil {
		jobCtx = ctx // the leases could not be taken: a failed run
	}
	if rep == nil {
		rep = &Report{Job: name, StartedAt: started}
		rep.finish(err, s.opts.Secrets)
	}
	result := resultOf(ExitCode(err, Classify))
	if err != nil {
		switch cause := context.Cause(jobCtx); {
		case errors.Is(cause, errShutdown):
			result = ResultCancelled
		case errors.Is(cause, ErrLeaseLost):
			result = ResultLeaseLost
		case errors.Is(cause, errTimeout):
			result = ResultTimeout
		}
	}
	ended := time.Now()

	js.mu.Lock()
	switch result {
	case ResultOK:
		js.failuresInARow = 0
	case ResultCancelled:
		// Our own shutdown is not the job's failure.
	default:
		js.failuresInARow++
	}
	js.lastResult, js.lastError = result, rep.Error
	n := js.failuresInARow
	js.mu.Unlock()

	s.metrics.observeRun(name, result, rep, ended, n)
	s.logReport(name, result, rep)
}

// errTimeout is the cause of a run cancelled by its job's timeout.
var errTimeout = errors.New("job timeout")

// logReport logs the run report as one record: at info when the run
// succeeded, at error otherwise.
func (s *Scheduler) logReport(name, result string, rep *Report) {
	data, err := json.Marshal(rep)
	if err != nil {
		s.logger.Error("schedule: cannot encode a run report", "job", name, "err", err)
		return
	}
	masked := RedactError(errors.New(string(data)), s.opts.Secrets).Error()
	level := slog.LevelInfo
	if result != ResultOK {
		level = slog.LevelError
	}
	s.logger.Log(context.Background(), level, "run report", "job", name, "result", result, "exit_code", rep.ExitCode, "report", json.RawMessage(masked))
}

// ScheduleOptions are the command-line overrides of `sluice schedule`.
type ScheduleOptions struct {
	// Listen overrides schedule.listen when set.
	Listen string
	// OnListen, when set, is told the address the HTTP server listens on.
	OnListen func(addr net.Addr)
}

// leasesOf names the leases a job needs: run does what ingest and merge
// do, so it takes both of theirs. An ingest split between processes
// (ingest.workers > 1) takes one lease per share, "ingest-<worker>-of-
// <workers>", so the shares run side by side and each share alone at once.
func leasesOf(cfg *Config, job string) []string {
	ingestLease := "ingest"
	if n := cfg.Ingest.Workers; n > 1 {
		ingestLease = fmt.Sprintf("ingest-%d-of-%d", cfg.Ingest.Worker, n)
	}
	switch job {
	case "run":
		return []string{ingestLease, "merge"}
	case "ingest":
		return []string{ingestLease}
	}
	return []string{job}
}

// scheduledJobs maps schedule.jobs onto ScheduledJobs.
func scheduledJobs(cfg *Config, logger *slog.Logger) ([]ScheduledJob, error) {
	var out []ScheduledJob
	for i, jc := range cfg.Schedule.Jobs {
		sched, err := cron.ParseStandard(jc.Cron)
		if err != nil {
			return nil, UsageError(&FieldError{fmt.Sprintf("schedule.jobs[%d].cron", i), err.Error()})
		}
		jlog := logger.With("job", jc.Name)
		var run func(ctx context.Context) (*Report, error)
		switch jc.Name {
		case "ingest":
			run = func(ctx context.Context) (*Report, error) { return Ingest(ctx, cfg, IngestOptions{}, jlog) }
		case "merge":
			run = func(ctx context.Context) (*Report, error) { return Merge(ctx, cfg, nil, jlog) }
		case "run":
			run = func(ctx context.Context) (*Report, error) { return RunOnce(ctx, cfg, jlog) }
		case "compact":
			run = func(ctx context.Context) (*Report, error) { return Compact(ctx, cfg, jlog) }
		default:
			return nil, UsageError(&FieldError{fmt.Sprintf("schedule.jobs[%d].name", i), fmt.Sprintf("unknown job %q", jc.Name)})
		}
		out = append(out, ScheduledJob{Name: jc.Name, Spec: jc.Cron, Schedule: sched, Timeout: jc.Timeout, Leases: leasesOf(cfg, jc.Name), Run: run})
	}
	return out, nil
}

// RunSchedule is `sluice schedule`: it runs cfg.Schedule's jobs until ctx
// is cancelled, with leases in the warehouse, and serves /metrics and
// /healthz. It returns nil after a clean shutdown.
func RunSchedule(ctx context.Context, cfg *Config, opts ScheduleOptions, logger *slog.Logger) error {
	if len(cfg.Schedule.Jobs) == 0 {
		return UsageError(&FieldError{"schedule.jobs", "no jobs to schedule: add e.g. {name: run, cron: \"*/5 * * * *\"}"})
	}
	jobsList, err := scheduledJobs(cfg, logger)
	if err != nil {
		return err
	}
	sopts, err := storeOptions(cfg, logger)
	if err != nil {
		return err
	}
	wh, err := OpenStore(ctx, cfg.Warehouse, sopts)
	if err != nil {
		return UsageError(fmt.Errorf("warehouse: %w", err))
	}
	leases := NewLeases(wh, LeaseOptions{TTL: cfg.Schedule.LeaseTTL, Logger: logger})
	sched, err := NewScheduler(jobsList, SchedulerOptions{
		Leases:         leases,
		Logger:         logger,
		ShutdownGrace:  cfg.Schedule.ShutdownGrace,
		UnhealthyAfter: cfg.Schedule.UnhealthyAfter,
		Secrets:        cfg.Secrets(),
	})
	if err != nil {
		return err
	}
	listen := cfg.Schedule.Listen
	if opts.Listen != "" {
		listen = opts.Listen
	}
	stopHTTP, err := ServeMetrics(listen, sched.Metrics(), sched.Health, opts.OnListen, logger)
	if err != nil {
		return err
	}
	defer stopHTTP()
	logger.Info("schedule: starting", "holder", leases.Holder(), "jobs", len(jobsList), "lease_ttl", cfg.Schedule.LeaseTTL)
	return sched.Run(ctx)
}

// ServeMetrics serves NewHTTPHandler(m, health) on addr in the background
// and returns a function that stops the server. onListen, when set, is told
// the bound address (useful with port 0).
func ServeMetrics(addr string, m *Metrics, health HealthFunc, onListen func(net.Addr), logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	if onListen != nil {
		onListen(ln.Addr())
	}
	srv := &http.Server{Handler: NewHTTPHandler(m, health), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving /metrics and /healthz", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
