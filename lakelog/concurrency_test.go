package lakelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/lakelog/blob/s3blob"
	"github.com/sluicehq/sluice/tests/testenv"
)

// concurrencyStores are the backends the concurrency tests run on; S3 only
// when the harness's versitygw is configured.
func concurrencyStores(t *testing.T) map[string]func(t *testing.T) blob.Store {
	return map[string]func(t *testing.T) blob.Store{
		"memblob": func(t *testing.T) blob.Store { return memblob.New() },
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
				Bucket: cfg.Bucket, Prefix: testenv.UniqueName("lakelog_concurrency"), Region: cfg.Region,
				Endpoint: cfg.Endpoint, PathStyle: true, AccessKeyID: cfg.AccessKey, SecretAccessKey: cfg.SecretKey,
			})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// raceCounter is a slog.Handler counting the "lost race" debug records
// Commit logs, for the test's report.
type raceCounter struct {
	lost, maxAttempt atomic.Int64
}

func (*raceCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *raceCounter) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "lost race") {
		return nil
	}
	c.lost.Add(1)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "attempt" {
			n := a.Value.Int64()
			for cur := c.maxAttempt.Load(); n > cur && !c.maxAttempt.CompareAndSwap(cur, n); cur = c.maxAttempt.Load() {
			}
		}
		return true
	})
	return nil
}
func (c *raceCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *raceCounter) WithGroup(string) slog.Handler      { return c }

// TestConcurrentBlindAppends runs 16 writers × 50 commits, each commit a
// blind append of one file plus the writer's own txn, the way ingest
// writes one Kafka partition. Every commit must land exactly once, at
// contiguous versions, and every writer's last txn version must survive.
func TestConcurrentBlindAppends(t *testing.T) {
	const writers, commits = 16, 50
	for name, newStore := range concurrencyStores(t) {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name != "memblob" {
				t.Skip("short")
			}
			ctx := context.Background()
			store := newStore(t)
			races := &raceCounter{}
			table := Open(store, Options{Logger: slog.New(races)})
			if _, err := table.Create(ctx, Metadata{SchemaString: testSchema, Configuration: map[string]string{"delta.appendOnly": "true"}}, rawTableProtocol); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					app := fmt.Sprintf("writer-%02d", w)
					for i := range commits {
						snap, err := table.Snapshot(ctx)
						if err != nil {
							errs <- fmt.Errorf("%s: %w", app, err)
							return
						}
						// Exactly-once check as ingest does it.
						if v, ok := snap.AppVersion(app); ok && v >= int64(i) {
							errs <- fmt.Errorf("%s: batch %d already committed as %d", app, i, v)
							return
						}
						tx := snap.Begin("WRITE")
						tx.Add(&Add{Path: fmt.Sprintf("%s-%03d.parquet", app, i), Size: 10, ModificationTime: 1, DataChange: true, Stats: `{"numRecords":1}`})
						tx.SetAppVersion(app, int64(i))
						if _, err := tx.Commit(ctx); err != nil {
							errs <- fmt.Errorf("%s batch %d: %w", app, i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				return
			}
			t.Logf("%s: %d commits by %d writers in %v; %d lost races, at most %d attempts for one commit",
				name, writers*commits, writers, time.Since(start).Round(time.Millisecond), races.lost.Load(), races.maxAttempt.Load())

			// Versions 0..800, contiguous, straight from the store listing.
			var versions []string
			for obj, err := range store.List(ctx, "_delta_log/") {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(obj.Key, ".json") {
					versions = append(versions, obj.Key)
				}
			}
			if len(versions) != writers*commits+1 {
				t.Fatalf("%d commit files, want %d", len(versions), writers*commits+1)
			}
			for i, k := range versions {
				if k != commitKey(int64(i)) {
					t.Fatalf("commit file %d is %s, want %s", i, k, commitKey(int64(i)))
				}
			}
			// Every file added exactly once across the raw log.
			adds := map[string]int{}
			for c, err := range table.Commits(ctx, 0, -1) {
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range c.Actions {
					if a.Add != nil {
						adds[a.Add.Path]++
					}
				}
			}
			for w := range writers {
				for i := range commits {
					p := fmt.Sprintf("writer-%02d-%03d.parquet", w, i)
					if adds[p] != 1 {
						t.Errorf("%s added %d times, want once", p, adds[p])
					}
				}
			}
			snap, err := table.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(snap.Files()); got != writers*commits || snap.Version() != writers*commits {
				t.Errorf("final snapshot: %d files at version %d, want %d at %d", got, snap.Version(), writers*commits, writers*commits)
			}
			apps := snap.AppVersions()
			if len(apps) != writers {
				t.Errorf("%d appIds, want %d", len(apps), writers)
			}
			for app, v := range apps {
				if v != commits-1 {
					t.Errorf("app %s at version %d, want %d", app, v, commits-1)
				}
			}
		})
	}
}

// TestConcurrentSameAppID starts writers from one snapshot: four share an
// appId (two Kafka consumers of one partition) and four have their own.
// Exactly one of the four sharing writers may commit; the others get
// ConcurrentTransaction; the four independent writers all commit.
func TestConcurrentSameAppID(t *testing.T) {
	for name, newStore := range concurrencyStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := newStore(t)
			table := Open(store, Options{})
			snap, err := table.Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol)
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				shared bool
				err    error
			}
			results := make(chan result, 8)
			var wg sync.WaitGroup
			for w := range 8 {
				shared := w%2 == 0
				wg.Go(func() {
					tx := snap.Begin("WRITE")
					tx.Add(&Add{Path: fmt.Sprintf("w%d.parquet", w), Size: 1, DataChange: true})
					app := fmt.Sprintf("own-%d", w)
					if shared {
						app = "orders-0"
					}
					tx.SetAppVersion(app, 100)
					_, err := tx.Commit(ctx)
					results <- result{shared, err}
				})
			}
			wg.Wait()
			close(results)
			sharedOK, sharedConflicts := 0, 0
			for r := range results {
				var ce *ConflictError
				switch {
				case r.err == nil && r.shared:
					sharedOK++
				case r.err == nil:
				case r.shared && errors.As(r.err, &ce) && ce.Kind == ConflictTransaction:
					sharedConflicts++
				default:
					t.Errorf("shared=%v: unexpected error %v", r.shared, r.err)
				}
			}
			if sharedOK != 1 || sharedConflicts != 3 {
				t.Fatalf("shared appId: %d committed, %d ConcurrentTransaction; want 1 and 3", sharedOK, sharedConflicts)
			}
			final, err := table.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if final.Version() != 5 || len(final.Files()) != 5 {
				t.Fatalf("final: version %d with %d files, want 5 and 5", final.Version(), len(final.Files()))
			}
		})
	}
}
