package jobs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/s3blob"
	"github.com/sluicehq/sluice/tests/testenv"
)

// leaseStores are the lakes lease tests run against: a local directory and
// the harness's S3 (versitygw; skipped locally, required under CI).
func leaseStores() map[string]func(t *testing.T) blob.Store {
	return map[string]func(t *testing.T) blob.Store{
		"fileblob": func(t *testing.T) blob.Store {
			s, err := fileblob.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3blob": func(t *testing.T) blob.Store {
			cfg := testenv.S3(t)
			s, err := s3blob.New(context.Background(), s3blob.Options{
				Bucket: cfg.Bucket, Prefix: testenv.UniqueName("jobs_lease"), Region: cfg.Region,
				Endpoint: cfg.Endpoint, PathStyle: true, AccessKeyID: cfg.AccessKey, SecretAccessKey: cfg.SecretKey,
			})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// fakeClock is a settable clock shared by the lease managers of a test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLeaseLifecycle(t *testing.T) {
	for name, open := range leaseStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			a := NewLeases(store, LeaseOptions{TTL: time.Minute, Holder: "A", Now: clock.Now})
			b := NewLeases(store, LeaseOptions{TTL: time.Minute, Holder: "B", Now: clock.Now})

			la, err := a.Acquire(ctx, "merge")
			if err != nil {
				t.Fatal(err)
			}
			if la.Epoch() != 1 {
				t.Errorf("first epoch = %d, want 1", la.Epoch())
			}
			// Held: B is refused and told by whom.
			_, err = b.Acquire(ctx, "merge")
			var held *LeaseHeldError
			if !errors.As(err, &held) || !errors.Is(err, ErrLeaseHeld) || held.Holder != "A" {
				t.Fatalf("B acquire while A holds: %v, want a LeaseHeldError naming A", err)
			}
			// Another lease name is independent.
			if _, err := b.Acquire(ctx, "compact"); err != nil {
				t.Fatalf("B acquire another lease: %v", err)
			}
			// Renewal moves the epoch on and is still exclusive 59s later,
			// past the first record's expiry.
			clock.Add(20 * time.Second)
			if err := la.Renew(ctx); err != nil {
				t.Fatal(err)
			}
			clock.Add(59 * time.Second)
			if _, err := b.Acquire(ctx, "merge"); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("B acquire after A renewed: %v, want held", err)
			}
			// Release lets B in at once, without waiting for expiry.
			if err := la.Release(ctx); err != nil {
				t.Fatal(err)
			}
			lb, err := b.Acquire(ctx, "merge")
			if err != nil {
				t.Fatalf("B acquire after release: %v", err)
			}
			if lb.Epoch() != 4 { // 1 acquire, 2 renew, 3 release, 4 acquire
				t.Errorf("epoch after acquire, renew, release, acquire = %d, want 4", lb.Epoch())
			}
			// Old records are pruned: only the newest one is left.
			var keys []string
			for obj, err := range store.List(ctx, LeasePrefix+"merge/") {
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, obj.Key)
			}
			if len(keys) != 1 || keys[0] != "_sluice_leases/merge/00000000000000000004" {
				t.Errorf("records left = %v, want only epoch 4", keys)
			}
		})
	}
}

// A holder that crashed leaves its lease behind; after TTL another process
// takes it over, and the old holder, should it come back, learns it lost.
func TestLeaseStaleTakeover(t *testing.T) {
	for name, open := range leaseStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			a := NewLeases(store, LeaseOptions{TTL: time.Minute, Holder: "A", Now: clock.Now})
			b := NewLeases(store, LeaseOptions{TTL: time.Minute, Holder: "B", Now: clock.Now})
			la, err := a.Acquire(ctx, "ingest")
			if err != nil {
				t.Fatal(err)
			}
			clock.Add(59 * time.Second)
			if _, err := b.Acquire(ctx, "ingest"); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("before expiry: %v, want held", err)
			}
			clock.Add(time.Second) // exactly TTL after A's write: expired
			lb, err := b.Acquire(ctx, "ingest")
			if err != nil {
				t.Fatalf("take over an expired lease: %v", err)
			}
			if lb.Epoch() != 2 {
				t.Errorf("taken-over epoch = %d, want 2", lb.Epoch())
			}
			if err := la.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("old holder renewing after takeover: %v, want ErrLeaseLost", err)
			}
			if err := la.Release(ctx); err != nil {
				t.Errorf("old holder releasing a lost lease: %v, want nil", err)
			}
			if _, err := a.Acquire(ctx, "ingest"); !errors.Is(err, ErrLeaseHeld) {
				t.Errorf("B's lease after A's release attempt: %v, want still held", err)
			}
		})
	}
}

// A renewal attempted after the holder's deadline (3/4 TTL) fails even if
// nobody took the lease: a taker may already be entitled to it.
func TestLeaseRenewAfterDeadline(t *testing.T) {
	store, _ := fileblob.New(t.TempDir())
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := NewLeases(store, LeaseOptions{TTL: time.Minute, Holder: "A", Now: clock.Now})
	la, err := a.Acquire(context.Background(), "merge")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := la.Deadline(), clock.Now().Add(45*time.Second); !got.Equal(want) {
		t.Errorf("deadline = %v, want %v", got, want)
	}
	clock.Add(45 * time.Second)
	if err := la.Renew(context.Background()); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("renew at the deadline: %v, want ErrLeaseLost", err)
	}
}

// Of many processes racing for a free or an expired lease, exactly one
// wins each time.
func TestLeaseRaceOneWinner(t *testing.T) {
	for name, open := range leaseStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			const racers = 8
			for round := 0; round < 3; round++ {
				var wins atomic.Int32
				var wg sync.WaitGroup
				for i := 0; i < racers; i++ {
					l := NewLeases(store, LeaseOptions{TTL: time.Minute, Now: clock.Now})
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := l.Acquire(ctx, "run")
						switch {
						case err == nil:
							wins.Add(1)
						case !errors.Is(err, ErrLeaseHeld):
							t.Errorf("acquire: %v", err)
						}
					}()
				}
				wg.Wait()
				if got := wins.Load(); got != 1 {
					t.Fatalf("round %d: %d winners, want 1", round, got)
				}
				clock.Add(2 * time.Minute) // the winner "crashes": its lease expires
			}
		})
	}
}

// failingPuts fails every PutIfAbsent after the first n.
type failingPuts struct {
	blob.Store
	left atomic.Int32
}

func (f *failingPuts) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if f.left.Add(-1) < 0 {
		return errors.New("store unavailable")
	}
	return f.Store.PutIfAbsent(ctx, key, data)
}

// When renewals keep failing, Hold cancels the job with ErrLeaseLost at the
// deadline instead of letting it run on into a possible takeover.
func TestHoldCancelsWhenRenewalsFail(t *testing.T) {
	fs, _ := fileblob.New(t.TempDir())
	store := &failingPuts{Store: fs}
	store.left.Store(1) // the acquire succeeds, every renewal fails
	l := NewLeases(store, LeaseOptions{TTL: 400 * time.Millisecond, Holder: "A"})
	var cause error
	err := l.Hold(context.Background(), []string{"merge"}, func(ctx context.Context) error {
		<-ctx.Done()
		cause = context.Cause(ctx)
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(cause, ErrLeaseLost) {
		t.Errorf("Hold = %v with cause %v, want context.Canceled caused by ErrLeaseLost", err, cause)
	}
}

// Hold renews while the job runs longer than the TTL, and releases after.
func TestHoldRenewsAndReleases(t *testing.T) {
	store, _ := fileblob.New(t.TempDir())
	// A TTL long enough that an fsync stall on a loaded machine cannot
	// make A's lease lapse between renewals.
	a := NewLeases(store, LeaseOptions{TTL: 6 * time.Second, Holder: "A"})
	b := NewLeases(store, LeaseOptions{TTL: 6 * time.Second, Holder: "B"})
	ctx := context.Background()
	err := a.Hold(ctx, []string{"ingest", "merge"}, func(ctx context.Context) error {
		// Wait until at least two renewals have been written (epoch 3),
		// which takes longer than one TTL.
		for {
			rec, err := a.latest(ctx, "merge")
			if err != nil {
				return err
			}
			if rec.Epoch >= 3 {
				break
			}
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(20 * time.Millisecond):
			}
		}
		if _, err := b.Acquire(ctx, "merge"); !errors.Is(err, ErrLeaseHeld) {
			t.Errorf("B acquire while A holds and renews: %v, want held", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ingest", "merge"} {
		if _, err := b.Acquire(ctx, n); err != nil {
			t.Errorf("B acquire %s after A's Hold returned: %v", n, err)
		}
	}
}
