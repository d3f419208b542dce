package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// One-shot commands (`sluice ingest`, `merge`, `run`, `compact`) take the
// same lake leases as the jobs of `sluice schedule` (lease.go, leasesOf), so
// a cron tick, an Airflow task and a daemon never run the same job at once,
// on one machine or on several. `sluice snapshot` and `backfill` take one
// lease per snapshot id (SnapshotLease): two runs of one id would read and
// write the same chunks, while different ids may run at once. `sluice
// vacuum --execute` takes a "vacuum" lease in the table it cleans
// (WithStoreLease), since it has no config and so no warehouse.
//
// The lease is not what keeps the data correct: ingest and merge commit
// optimistically (offsets and raw versions in the same atomic Delta commit
// as the data), so two overlapping runs can never lose or double a row; the
// loser of a commit race just retries or fails with a retryable error. The
// lease avoids that wasted work and the noisy failures of racing runs.
//
// Behaviour when a lease is held elsewhere: the command does nothing and
// exits ExitLeaseHeld (6), naming the holder and when its lease expires,
// unless told to wait for it (--wait), polling until the lease is free or
// the wait is over.

// JobLeaseOptions configure how a one-shot job takes its leases.
type JobLeaseOptions struct {
	// Wait is how long to wait for a lease held elsewhere before giving up
	// with a *LeaseHeldError (ExitLeaseHeld); 0 gives up at once.
	Wait time.Duration
	// PollInterval is how often a waiting job tries again. Default: a tenth
	// of the lease TTL, between 1s and 10s.
	PollInterval time.Duration
	// Now is the clock of the leases; tests replace it. Default time.Now.
	Now func() time.Time
	// Leases, when not empty, are the leases to hold instead of
	// JobLeases(cfg, job) (snapshot and backfill: SnapshotLease).
	Leases []string
}

// SnapshotLease names the lease of a snapshot or backfill run of id: the
// same for both commands, since a backfill resumed with a snapshot's id
// works on the same plan. The id is path-escaped, as lease names are path
// segments.
func SnapshotLease(id string) string { return "snapshot-" + url.PathEscape(id) }

// JobLeases names the leases a job takes: its own name, for run both
// ingest's and merge's (it does what both do), and for an ingest split
// between processes (ingest.workers > 1) one per share.
func JobLeases(cfg *Config, job string) []string { return leasesOf(cfg, job) }

// WithJobLease runs fn while holding the lake leases of job (JobLeases),
// renewed in the background like the scheduler's; fn's context is
// cancelled with cause ErrLeaseLost if a lease cannot be renewed in time.
// When a lease is held elsewhere and opts.Wait is over, fn does not run and
// the returned report (never nil) and error carry the *LeaseHeldError
// (errors.Is ErrLeaseHeld; exit code ExitLeaseHeld). Otherwise it returns
// fn's report and error; an error of a run whose lease was lost wraps
// ErrLeaseLost (retryable).
func WithJobLease(ctx context.Context, cfg *Config, job string, opts JobLeaseOptions, logger *slog.Logger, fn func(context.Context) (*Report, error)) (*Report, error) {
	started := time.Now()
	fail := func(err error) (*Report, error) {
		rep := &Report{Job: job, StartedAt: started}
		rep.finish(err, cfg.Secrets())
		return rep, err
	}
	sopts, err := storeOptions(cfg, logger)
	if err != nil {
		return fail(err)
	}
	wh, err := OpenStore(ctx, cfg.Warehouse, sopts)
	if err != nil {
		return fail(UsageError(fmt.Errorf("warehouse: %w", err)))
	}
	leases := NewLeases(wh, LeaseOptions{TTL: cfg.Schedule.LeaseTTL, Now: opts.Now, Logger: logger})
	names := opts.Leases
	if len(names) == 0 {
		names = JobLeases(cfg, job)
	}
	return holdJobLeases(ctx, leases, job, names, opts, cfg.Secrets(), logger, fn)
}

// WithStoreLease is WithJobLease for a command that has no config and works
// on one store (`sluice vacuum`): the leases named live in store, with the
// default TTL. Same behaviour, report and errors.
func WithStoreLease(ctx context.Context, store blob.Store, job string, names []string, opts JobLeaseOptions, logger *slog.Logger, fn func(context.Context) (*Report, error)) (*Report, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	leases := NewLeases(store, LeaseOptions{Now: opts.Now, Logger: logger})
	return holdJobLeases(ctx, leases, job, names, opts, nil, logger, fn)
}

// holdJobLeases runs fn holding names in leases, waiting up to opts.Wait.
func holdJobLeases(ctx context.Context, leases *Leases, job string, names []string, opts JobLeaseOptions, secrets []string, logger *slog.Logger, fn func(context.Context) (*Report, error)) (*Report, error) {
	started := time.Now()
	fail := func(err error) (*Report, error) {
		rep := &Report{Job: job, StartedAt: started}
		rep.finish(err, secrets)
		return rep, err
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = min(max(leases.ttl/10, time.Second), 10*time.Second)
	}
	giveUp := time.Now().Add(opts.Wait)
	for {
		var rep *Report
		ran := false
		err := leases.Hold(ctx, names, func(jobCtx context.Context) error {
			ran = true
			logger.Debug("lease taken", "job", job, "leases", names, "holder", leases.Holder())
			var ferr error
			rep, ferr = fn(jobCtx)
			if cause := context.Cause(jobCtx); ferr != nil && errors.Is(cause, ErrLeaseLost) && !errors.Is(ferr, ErrLeaseLost) {
				ferr = fmt.Errorf("%w (%w)", ferr, cause)
				if rep != nil {
					rep.finish(ferr, secrets)
				}
			}
			return ferr
		})
		if ran {
			if rep == nil {
				return fail(err)
			}
			return rep, err
		}
		var held *LeaseHeldError
		if !errors.As(err, &held) {
			return fail(fmt.Errorf("%s: take the lease: %w", job, err))
		}
		wait := time.Until(giveUp)
		if wait <= 0 {
			return fail(fmt.Errorf("%s: another run of this job is in progress, nothing done (%w); retry later, or pass --wait", job, err))
		}
		logger.Info("waiting for a lease held by another run", "job", job, "lease", held.Error(), "wait_left", wait.Round(time.Second))
		t := time.NewTimer(min(poll, wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(fmt.Errorf("%s: stopped while waiting for the lease (%w): %w", job, err, ctx.Err()))
		case <-t.C:
		}
	}
}
