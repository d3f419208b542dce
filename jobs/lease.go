package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// A lease makes a job exclusive across every process that shares a lake:
// two `sluice schedule` daemons on two machines never run the same job at
// once. It lives in the lake itself, because the lake is the one thing all
// of them share, and needs nothing from the store but PutIfAbsent (an S3
// conditional put, If-None-Match: *).
//
// Layout: a lease is a chain of immutable records
//
//	_sluice_leases/<name>/<epoch>    epoch zero-padded to 20 digits
//
// and its state is the record with the greatest epoch. Every state change
// — acquire, renew, release, take-over of an expired lease — writes the
// next epoch with PutIfAbsent, so changes are totally ordered and each
// epoch has exactly one writer: of two processes racing from epoch N,
// exactly one writes N+1 and the other learns it lost.
//
// Invariants:
//   - A record is never changed after it is written; older records are
//     deleted by whoever wrote a newer one (only the newest one matters),
//     and the newest record is never deleted.
//   - A write counts only if, after it, no newer epoch exists (confirm):
//     PutIfAbsent of an epoch that was pruned succeeds again, but a pruned
//     epoch always has a newer one beside it, so the stale writer learns it
//     lost.
//   - A process takes a lease only when the newest record is released, or
//     expired by the taker's clock (now >= expires_at).
//   - The holder renews every TTL/3 by writing the next epoch itself. It
//     stops working (its context is cancelled) at 3/4 TTL after the start of
//     its last successful write, renewed or not, and never renews after that.
//     A taker moves in at expires_at = that start + TTL at the earliest, so
//     the holder's work and the taker's never overlap as long as clock skew
//     between the machines plus the time a job needs to notice a cancelled
//     context stays below TTL/4.
//   - If that bound is broken the only cost is wasted work: every commit
//     sluice makes is an atomic, idempotent Delta commit (offsets and raw
//     versions are recorded in the same commit), so an overlapping run can
//     lose a commit race but never duplicate or corrupt data.
//   - A holder that crashes leaves an unreleased record; it expires after
//     TTL and the next tick anywhere takes the lease over.

// LeasePrefix is the key prefix of leases in the warehouse.
const LeasePrefix = "_sluice_leases/"

// ErrLeaseHeld is returned (wrapped, as a *LeaseHeldError) when a lease is
// held by another process.
var ErrLeaseHeld = errors.New("lease held by another holder")

// ErrLeaseLost is the cause of a job context cancelled because its lease
// could not be renewed in time or was taken over.
var ErrLeaseLost = errors.New("lease lost")

// LeaseHeldError says who holds a lease and until when.
type LeaseHeldError struct {
	Name      string
	Holder    string // empty when another process won a race for the same epoch
	Epoch     int64
	ExpiresAt time.Time
}

func (e *LeaseHeldError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("lease %s: another holder took epoch %d first", e.Name, e.Epoch)
	}
	return fmt.Sprintf("lease %s: held by %s (epoch %d) until %s", e.Name, e.Holder, e.Epoch, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLeaseHeld) true.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// leaseRecord is one epoch of a lease, as stored (JSON).
type leaseRecord struct {
	Name      string    `json:"name"`
	Epoch     int64     `json:"epoch"`
	Holder    string    `json:"holder"`
	WrittenAt time.Time `json:"written_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Released  bool      `json:"released,omitempty"`
}

// LeaseOptions configure Leases.
type LeaseOptions struct {
	// TTL is how long a record lives without renewal. Default 1m.
	TTL time.Duration
	// Holder names this process in lease records (for operators and logs).
	// Default host/pid/random.
	Holder string
	// Now is the clock; tests replace it. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Leases acquires leases in one store (the warehouse). Safe for concurrent
// use.
type Leases struct {
	store  blob.Store
	ttl    time.Duration
	holder string
	now    func() time.Time
	logger *slog.Logger
}

// NewLeases returns a lease manager over store.
func NewLeases(store blob.Store, opts LeaseOptions) *Leases {
	l := &Leases{store: store, ttl: opts.TTL, holder: opts.Holder, now: opts.Now, logger: opts.Logger}
	if l.ttl <= 0 {
		l.ttl = defaultLeaseTTL
	}
	if l.holder == "" {
		l.holder = defaultHolder()
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l
}

func defaultHolder() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Holder returns the name this process writes into its lease records.
func (l *Leases) Holder() string { return l.holder }

func leaseDir(name string) string { return LeasePrefix + name + "/" }

func leaseKey(name string, epoch int64) string {
	return fmt.Sprintf("%s%020d", leaseDir(name), epoch)
}

// latest returns the newest record of the lease, nil when there is none.
func (l *Leases) latest(ctx context.Context, name string) (*leaseRecord, error) {
	// A record listed but gone by the time it is read was deleted by the
	// writer of a newer one: list again.
	for attempt := 0; attempt < 5; attempt++ {
		var best int64 = -1
		var bestKey string
		for obj, err := range l.store.List(ctx, leaseDir(name)) {
			if err != nil {
				return nil, fmt.Errorf("lease %s: list: %w", name, err)
			}
			e, err := strconv.ParseInt(strings.TrimPrefix(obj.Key, leaseDir(name)), 10, 64)
			if err != nil {
				continue // not a lease record; ignore rather than fail the job
			}
			if e > best {
				best, bestKey = e, obj.Key
			}
		}
		if best < 0 {
			return nil, nil
		}
		rec, err := l.read(ctx, bestKey)
		if errors.Is(err, blob.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lease %s: %w", name, err)
		}
		return rec, nil
	}
	return nil, fmt.Errorf("lease %s: records keep disappearing while read", name)
}

func (l *Leases) read(ctx context.Context, key string) (*leaseRecord, error) {
	rc, err := l.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var rec leaseRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &rec, nil
}

// write puts rec as its epoch with PutIfAbsent; ErrExist means another
// process wrote that epoch first.
func (l *Leases) write(ctx context.Context, rec *leaseRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return l.store.PutIfAbsent(ctx, leaseKey(rec.Name, rec.Epoch), data)
}

// confirm checks that no record newer than the one just written at epoch
// exists, and returns a *LeaseHeldError if one does. PutIfAbsent alone is
// not enough because records are pruned: a writer that read the lease long
// ago can re-create a pruned epoch. But an epoch is only pruned after a
// newer one was written, and the newest is never pruned, so a re-created
// epoch always finds a newer one here.
func (l *Leases) confirm(ctx context.Context, name string, epoch int64) error {
	for obj, err := range l.store.List(ctx, leaseDir(name)) {
		if err != nil {
			return fmt.Errorf("lease %s: confirm epoch %d: %w", name, epoch, err)
		}
		e, err := strconv.ParseInt(strings.TrimPrefix(obj.Key, leaseDir(name)), 10, 64)
		if err == nil && e > epoch {
			return &LeaseHeldError{Name: name, Epoch: e}
		}
	}
	return nil
}

// prune deletes the records older than epoch (best effort: a leftover
// record is harmless, the newest one decides).
func (l *Leases) prune(ctx context.Context, name string, epoch int64) {
	for obj, err := range l.store.List(ctx, leaseDir(name)) {
		if err != nil {
			return
		}
		e, err := strconv.ParseInt(strings.TrimPrefix(obj.Key, leaseDir(name)), 10, 64)
		if err != nil || e >= epoch {
			continue
		}
		if err := l.store.Delete(ctx, obj.Key); err != nil {
			l.logger.Debug("lease: delete an old record", "key", obj.Key, "err", err)
		}
	}
}

// Lease is one held lease. Its methods are safe for concurrent use.
type Lease struct {
	l    *Leases
	name string

	mu       sync.Mutex
	epoch    int64
	deadline time.Time // stop working by then unless renewed
	lost     bool
}

// Acquire takes the lease name if it is free, released, expired, or held
// by a process that no longer exists on this host (holderGone). It
// returns a *LeaseHeldError (errors.Is ErrLeaseHeld) when another process
// holds it or won the race for it, and other errors when the store fails.
// Not idempotent: each call that succeeds writes a new epoch.
func (l *Leases) Acquire(ctx context.Context, name string) (*Lease, error) {
	cur, err := l.latest(ctx, name)
	if err != nil {
		return nil, err
	}
	now := l.now()
	next := int64(1)
	if cur != nil {
		gone := !cur.Released && now.Before(cur.ExpiresAt) && cur.Holder != l.holder && holderGone(cur.Holder)
		if !cur.Released && now.Before(cur.ExpiresAt) && !gone {
			return nil, &LeaseHeldError{Name: name, Holder: cur.Holder, Epoch: cur.Epoch, ExpiresAt: cur.ExpiresAt}
		}
		if gone {
			l.logger.Warn("lease: taking over the lease of a process that no longer exists on this host", "lease", name, "holder", cur.Holder, "epoch", cur.Epoch, "expires_at", cur.ExpiresAt)
		} else if !cur.Released {
			l.logger.Warn("lease: taking over an expired lease", "lease", name, "holder", cur.Holder, "epoch", cur.Epoch, "expired_at", cur.ExpiresAt)
		}
		next = cur.Epoch + 1
	}
	rec := &leaseRecord{Name: name, Epoch: next, Holder: l.holder, WrittenAt: now, ExpiresAt: now.Add(l.ttl)}
	if err := l.write(ctx, rec); err != nil {
		if errors.Is(err, blob.ErrExist) {
			return nil, &LeaseHeldError{Name: name, Epoch: next}
		}
		return nil, fmt.Errorf("lease %s: write epoch %d: %w", name, next, err)
	}
	if err := l.confirm(ctx, name, next); err != nil {
		// Unconfirmed (listing failed): our record may be the newest, and
		// then it expires after TTL like a crashed holder's.
		return nil, err
	}
	if next > 1 {
		l.prune(ctx, name, next)
	}
	return &Lease{l: l, name: name, epoch: next, deadline: l.deadline(now)}, nil
}

// deadline is when a holder whose last write started at start must stop:
// TTL/4 before the record expires, the margin for clock skew and for the
// job to notice cancellation.
func (l *Leases) deadline(start time.Time) time.Time { return start.Add(l.ttl - l.ttl/4) }

// Name returns the lease's name.
func (le *Lease) Name() string { return le.name }

// Epoch returns the epoch of the lease's newest record.
func (le *Lease) Epoch() int64 {
	le.mu.Lock()
	defer le.mu.Unlock()
	return le.epoch
}

// Deadline returns when the holder must have stopped working unless a
// Renew succeeds before.
func (le *Lease) Deadline() time.Time {
	le.mu.Lock()
	defer le.mu.Unlock()
	return le.deadline
}

// Renew extends the lease by writing its next epoch. It returns an error
// wrapping ErrLeaseLost when the deadline has passed or another process
// took the lease over (the holder must stop), and other errors when the
// store fails (the holder may retry until the deadline).
func (le *Lease) Renew(ctx context.Context) error {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.lost {
		return fmt.Errorf("lease %s: %w", le.name, ErrLeaseLost)
	}
	now := le.l.now()
	if !now.Before(le.deadline) {
		// Too late: a taker may already be entitled to the lease, and
		// renewing now could extend a lease it has taken.
		le.lost = true
		return fmt.Errorf("lease %s: %w: not renewed before its deadline %s", le.name, ErrLeaseLost, le.deadline.Format(time.RFC3339Nano))
	}
	rec := &leaseRecord{Name: le.name, Epoch: le.epoch + 1, Holder: le.l.holder, WrittenAt: now, ExpiresAt: now.Add(le.l.ttl)}
	if err := le.l.write(ctx, rec); err != nil {
		if errors.Is(err, blob.ErrExist) {
			le.lost = true
			return fmt.Errorf("lease %s: %w: epoch %d was written by another holder", le.name, ErrLeaseLost, rec.Epoch)
		}
		return fmt.Errorf("lease %s: renew: %w", le.name, err)
	}
	if err := le.l.confirm(ctx, le.name, rec.Epoch); err != nil {
		if errors.Is(err, ErrLeaseHeld) {
			le.lost = true
			return fmt.Errorf("lease %s: %w: a newer epoch than %d exists", le.name, ErrLeaseLost, rec.Epoch)
		}
		return err
	}
	le.epoch = rec.Epoch
	le.deadline = le.l.deadline(now)
	le.l.prune(ctx, le.name, le.epoch)
	return nil
}

// Release gives the lease up by writing a released record as its next
// epoch, so the next acquirer need not wait for it to expire. Releasing a
// lease that was lost is not an error. Not safe to call twice.
func (le *Lease) Release(ctx context.Context) error {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.lost {
		return nil
	}
	le.lost = true
	now := le.l.now()
	rec := &leaseRecord{Name: le.name, Epoch: le.epoch + 1, Holder: le.l.holder, WrittenAt: now, ExpiresAt: now, Released: true}
	if err := le.l.write(ctx, rec); err != nil {
		if errors.Is(err, blob.ErrExist) {
			return nil // taken over already: nothing left to release
		}
		return fmt.Errorf("lease %s: release: %w", le.name, err)
	}
	le.l.prune(ctx, le.name, rec.Epoch)
	return nil
}

// releaseTimeout bounds a release at shutdown, when the job's own context
// is already cancelled.
const releaseTimeout = 10 * time.Second

// Hold acquires the leases names in order, runs fn with a context that is
// cancelled with cause ErrLeaseLost if any of them cannot be renewed before
// its deadline, and releases them when fn returns. If one of the leases is
// held elsewhere it releases those it took and returns a *LeaseHeldError
// without running fn. Otherwise it returns fn's error.
func (l *Leases) Hold(ctx context.Context, names []string, fn func(context.Context) error) error {
	var held []*Lease
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		for i := len(held) - 1; i >= 0; i-- {
			if err := held[i].Release(rctx); err != nil {
				// Harmless for correctness: the lease expires after TTL.
				l.logger.Warn("lease: release failed; it will expire", "lease", held[i].name, "err", err)
			}
		}
	}
	for _, n := range names {
		le, err := l.Acquire(ctx, n)
		if err != nil {
			release()
			return err
		}
		held = append(held, le)
	}
	defer release()

	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		l.keepAlive(jobCtx, held, stop, cancel)
	}()
	err := fn(jobCtx)
	close(stop)
	<-watched
	return err
}

// keepAlive renews held every TTL/3 and cancels the job with ErrLeaseLost
// when a lease is lost or its deadline passes, until stop is closed.
func (l *Leases) keepAlive(ctx context.Context, held []*Lease, stop <-chan struct{}, cancel context.CancelCauseFunc) {
	interval := l.ttl / 3
	next := time.NewTimer(interval)
	defer next.Stop()
	for {
		deadline := held[0].Deadline()
		for _, le := range held[1:] {
			if d := le.Deadline(); d.Before(deadline) {
				deadline = d
			}
		}
		expire := time.NewTimer(deadline.Sub(l.now()))
		select {
		case <-stop:
			expire.Stop()
			return
		case <-ctx.Done():
			expire.Stop()
			return
		case <-expire.C:
			l.logger.Error("lease: deadline passed without a renewal; cancelling the job", "lease", held[0].name)
			cancel(fmt.Errorf("%w: not renewed before %s", ErrLeaseLost, deadline.Format(time.RFC3339Nano)))
			return
		case <-next.C:
			expire.Stop()
			for _, le := range held {
				if err := le.Renew(ctx); err != nil {
					if errors.Is(err, ErrLeaseLost) {
						l.logger.Error("lease: lost; cancelling the job", "lease", le.name, "err", err)
						cancel(err)
						return
					}
					// A store hiccup: retry soon, while the deadline allows.
					l.logger.Warn("lease: renew failed; retrying", "lease", le.name, "err", err)
				}
			}
			next.Reset(interval)
		}
	}
}
