package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
)

// jobLeaseLakes are the warehouses the one-shot lease tests run against: a
// local directory and the harness's S3 (versitygw; skipped locally, required
// under CI). Each returns a config and the store the config's warehouse is.
func jobLeaseLakes() map[string]func(t *testing.T) (*Config, blob.Store) {
	return map[string]func(t *testing.T) (*Config, blob.Store){
		"local": func(t *testing.T) (*Config, blob.Store) {
			dir := t.TempDir()
			cfg, err := ParseConfig([]byte("warehouse: "+dir+"\n"), lookupFrom(nil))
			if err != nil {
				t.Fatal(err)
			}
			s, err := fileblob.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			return cfg, s
		},
		"s3": func(t *testing.T) (*Config, blob.Store) {
			s3 := testenv.S3(t)
			text := "warehouse: s3://" + s3.Bucket + "/" + testenv.UniqueName("jobs_joblease") + "\n" +
				"s3: {endpoint: '" + s3.Endpoint + "', region: " + s3.Region + ", path_style: true, access_key_id: " + s3.AccessKey + ", secret_access_key: ${S3_SECRET}}\n"
			cfg, err := ParseConfig([]byte(text), lookupFrom(map[string]string{"S3_SECRET": s3.SecretKey}))
			if err != nil {
				t.Fatal(err)
			}
			sopts, err := storeOptions(cfg, discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			s, err := OpenStore(context.Background(), cfg.Warehouse, sopts)
			if err != nil {
				t.Fatal(err)
			}
			return cfg, s
		},
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Two one-shot runs of one job started together: exactly one runs, the
// other does nothing and says who holds the lease (exit 6). While the
// winner runs, a `run` (which needs the ingest and merge leases) is refused
// too, and a compact (its own lease) is not.
func TestWithJobLeaseConcurrentOneShots(t *testing.T) {
	for name, open := range jobLeaseLakes() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cfg, _ := open(t)
			logger := discardLogger()
			inside := make(chan struct{}, 2)
			release := make(chan struct{})
			var running, ran atomic.Int32
			work := func(ctx context.Context) (*Report, error) {
				if running.Add(1) > 1 {
					t.Error("two merges ran at once")
				}
				ran.Add(1)
				inside <- struct{}{}
				<-release
				running.Add(-1)
				return &Report{Job: "merge", OK: true}, nil
			}
			type result struct {
				rep *Report
				err error
			}
			results := make(chan result, 2)
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rep, err := WithJobLease(ctx, cfg, "merge", JobLeaseOptions{}, logger, work)
					results <- result{rep, err}
				}()
			}
			// The loser returns at once; the winner blocks in work.
			var loser result
			select {
			case loser = <-results:
			case <-time.After(time.Minute):
				t.Fatal("neither run returned: both wait or both run")
			}
			<-inside
			if !errors.Is(loser.err, ErrLeaseHeld) {
				t.Fatalf("loser err = %v, want ErrLeaseHeld", loser.err)
			}
			if got := ExitCode(loser.err, Classify); got != ExitLeaseHeld {
				t.Errorf("loser exit code = %d, want %d", got, ExitLeaseHeld)
			}
			if loser.rep == nil || loser.rep.ExitCode != ExitLeaseHeld || loser.rep.OK || loser.rep.Job != "merge" {
				t.Errorf("loser report = %+v, want job merge, exit %d, not ok", loser.rep, ExitLeaseHeld)
			}
			// The message names the lease, its holder and its expiry.
			var held *LeaseHeldError
			if errors.As(loser.err, &held) && held.Holder != "" {
				if !strings.Contains(loser.err.Error(), held.Holder) || !strings.Contains(loser.err.Error(), " until ") {
					t.Errorf("loser err %q does not name the holder and expiry", loser.err)
				}
			}
			if !strings.Contains(loser.err.Error(), "lease merge") {
				t.Errorf("loser err %q does not name the lease", loser.err)
			}

			// run needs merge's lease too; compact does not.
			_, err := WithJobLease(ctx, cfg, "run", JobLeaseOptions{}, logger, func(context.Context) (*Report, error) {
				t.Error("run ran while merge held its lease")
				return nil, nil
			})
			if !errors.Is(err, ErrLeaseHeld) {
				t.Errorf("run during merge: err = %v, want ErrLeaseHeld", err)
			}
			compacted := false
			if _, err := WithJobLease(ctx, cfg, "compact", JobLeaseOptions{}, logger, func(context.Context) (*Report, error) {
				compacted = true
				return &Report{Job: "compact", OK: true}, nil
			}); err != nil || !compacted {
				t.Errorf("compact during merge: err = %v, ran = %v; want it to run", err, compacted)
			}

			close(release)
			winner := <-results
			wg.Wait()
			if winner.err != nil || winner.rep == nil || !winner.rep.OK {
				t.Errorf("winner = %+v, %v; want its own report, no error", winner.rep, winner.err)
			}
			if got := ran.Load(); got != 1 {
				t.Errorf("merges run = %d, want 1", got)
			}
			// Released on the way out: the next run takes it at once.
			if _, err := WithJobLease(ctx, cfg, "run", JobLeaseOptions{}, logger, func(context.Context) (*Report, error) {
				return &Report{Job: "run", OK: true}, nil
			}); err != nil {
				t.Errorf("run after merge released: %v", err)
			}
		})
	}
}

// A one-shot run meeting a lease held by a scheduler daemon waits for it
// with Wait, and runs once the daemon releases it.
func TestWithJobLeaseWaits(t *testing.T) {
	ctx := context.Background()
	cfg, store := jobLeaseLakes()["local"](t)
	daemon := NewLeases(store, LeaseOptions{Holder: "daemon-on-host-b"})
	le, err := daemon.Acquire(ctx, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		if err := le.Release(ctx); err != nil {
			t.Error(err)
		}
	}()
	ran := false
	rep, err := WithJobLease(ctx, cfg, "ingest", JobLeaseOptions{Wait: time.Minute, PollInterval: 50 * time.Millisecond}, discardLogger(),
		func(context.Context) (*Report, error) { ran = true; return &Report{Job: "ingest", OK: true}, nil })
	if err != nil || !ran || !rep.OK {
		t.Fatalf("WithJobLease with Wait: ran = %v, rep = %+v, err = %v; want it to run after the release", ran, rep, err)
	}

	// Without Wait, a held lease is refused at once, naming the daemon.
	if _, err := daemon.Acquire(ctx, "ingest"); err != nil {
		t.Fatal(err)
	}
	_, err = WithJobLease(ctx, cfg, "ingest", JobLeaseOptions{}, discardLogger(), func(context.Context) (*Report, error) {
		t.Error("ran while the daemon holds the lease")
		return nil, nil
	})
	if !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), "daemon-on-host-b") {
		t.Errorf("err = %v, want ErrLeaseHeld naming daemon-on-host-b", err)
	}
}

// A run whose lease is lost (taken over after it could not renew) is
// cancelled, and its error is retryable (exit 3), not a plain failure.
func TestWithJobLeaseLostIsRetryable(t *testing.T) {
	ctx := context.Background()
	cfg, _ := jobLeaseLakes()["local"](t)
	cfg.Schedule.LeaseTTL = 4 * time.Second
	clock := &fakeClock{now: time.Now()}
	rep, err := WithJobLease(ctx, cfg, "compact", JobLeaseOptions{Now: clock.Now}, discardLogger(), func(ctx context.Context) (*Report, error) {
		clock.Add(time.Hour) // past the deadline: the keeper cancels the job
		<-ctx.Done()
		rep := &Report{Job: "compact", StartedAt: time.Now()}
		rep.finish(ctx.Err(), nil)
		return rep, ctx.Err()
	})
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("err = %v, want ErrLeaseLost", err)
	}
	if got := ExitCode(err, Classify); got != ExitRetryable || rep.ExitCode != ExitRetryable {
		t.Errorf("exit code = %d (report %d), want %d", got, rep.ExitCode, ExitRetryable)
	}
}

// Ingest shares (ingest.workers > 1) take one lease each, so the shares
// run side by side; run takes its share's and merge's.
func TestJobLeasesOfIngestWorkers(t *testing.T) {
	whole := &Config{}
	split := &Config{Ingest: IngestConfig{Worker: 1, Workers: 3}}
	for _, c := range []struct {
		cfg  *Config
		job  string
		want string
	}{
		{whole, "ingest", "ingest"},
		{whole, "run", "ingest merge"},
		{whole, "compact", "compact"},
		{split, "ingest", "ingest-1-of-3"},
		{split, "run", "ingest-1-of-3 merge"},
		{split, "merge", "merge"},
	} {
		if got := strings.Join(JobLeases(c.cfg, c.job), " "); got != c.want {
			t.Errorf("workers %d, job %s: leases %q, want %q", c.cfg.Ingest.Workers, c.job, got, c.want)
		}
	}
}
