package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
)

// These tests assert orderings and counts, never durations: ticks are a
// few milliseconds apart (cron's @every rounds up to a second) and every
// wait is for a condition, with a generous limit.

// every is a Schedule firing d after each tick.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// runLog records the runs of fake jobs sharing one lease: how many ran,
// whether two were ever active at once, and each run's interval.
type runLog struct {
	active   atomic.Int32
	overlaps atomic.Int32
	runs     atomic.Int32

	mu        sync.Mutex
	intervals [][2]time.Time
}

// run is a fake job: it marks itself active, calls body, and records.
func (r *runLog) run(ctx context.Context, body func(ctx context.Context) error) (*Report, error) {
	if r.active.Add(1) > 1 {
		r.overlaps.Add(1)
	}
	start := time.Now()
	err := body(ctx)
	end := time.Now()
	r.active.Add(-1)
	r.runs.Add(1)
	r.mu.Lock()
	r.intervals = append(r.intervals, [2]time.Time{start, end})
	r.mu.Unlock()
	return nil, err
}

// checkDisjoint fails if two recorded runs' intervals intersect.
func (r *runLog) checkDisjoint(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	iv := slices.Clone(r.intervals)
	slices.SortFunc(iv, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	for i := 1; i < len(iv); i++ {
		if iv[i][0].Before(iv[i-1][1]) {
			t.Errorf("runs overlap: [%v, %v] and [%v, %v]", iv[i-1][0], iv[i-1][1], iv[i][0], iv[i][1])
		}
	}
	if n := r.overlaps.Load(); n != 0 {
		t.Errorf("%d runs started while another was active", n)
	}
}

// waitFor polls cond until it holds; the limit only guards against a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gathered returns a metric's value from the registry (0 when absent).
func gathered(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	v, _ := metricValue(byName, name, labels)
	return v
}

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startScheduler runs s in the background; stop cancels it and returns
// Run's error.
func startScheduler(t *testing.T, s *Scheduler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "the scheduler to start", func() bool { return s.alive.Load() })
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// A tick that finds the previous run still going is skipped and counted;
// the job never overlaps itself and runs again after; each run logs its
// JSON report.
func TestSchedulerSkipsOverlappingTicks(t *testing.T) {
	var log runLog
	release := make(chan struct{})
	var logs syncBuffer
	s, err := NewScheduler([]ScheduledJob{{
		Name: "merge", Spec: "every 2ms", Schedule: every(2 * time.Millisecond),
		Run: func(ctx context.Context) (*Report, error) {
			return log.run(ctx, func(context.Context) error {
				if log.runs.Load() == 0 {
					<-release // the first run lasts until the test saw skips
				}
				return nil
			})
		},
	}}, SchedulerOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	stop := startScheduler(t, s)
	overlap := map[string]string{"job": "merge", "reason": "overlap"}
	waitFor(t, "two skipped ticks", func() bool { return gathered(t, s.Metrics(), "sluice_job_skipped_total", overlap) >= 2 })
	if got := log.runs.Load(); got != 0 {
		t.Errorf("%d runs finished while the first was blocked", got)
	}
	close(release)
	waitFor(t, "three runs", func() bool { return log.runs.Load() >= 3 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after a clean stop", err)
	}
	log.checkDisjoint(t)
	ok := gathered(t, s.Metrics(), "sluice_job_runs_total", map[string]string{"job": "merge", "result": "ok"})
	if int32(ok) != log.runs.Load() {
		t.Errorf("runs_total{ok} = %v, the job ran %d times", ok, log.runs.Load())
	}
	if v := gathered(t, s.Metrics(), "sluice_job_last_success_timestamp_seconds", map[string]string{"job": "merge"}); v <= 0 {
		t.Errorf("last success = %v, want a Unix time", v)
	}

	// One "run report" record per run, with the report as a JSON object.
	reports := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var rec struct {
			Msg    string `json:"msg"`
			Result string `json:"result"`
			Report struct {
				Job string `json:"job"`
				OK  bool   `json:"ok"`
			} `json:"report"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if rec.Msg == "run report" {
			reports++
			if rec.Report.Job != "merge" || !rec.Report.OK || rec.Result != "ok" {
				t.Errorf("run report record = %s", sc.Text())
			}
		}
	}
	if int32(reports) != log.runs.Load() {
		t.Errorf("%d run reports logged for %d runs", reports, log.runs.Load())
	}
}

// Two schedulers (two daemons) against one lake never run the same job at
// once; run shares the merge lease with merge, so neither overlaps the
// other either.
func TestTwoSchedulersOneLakeNeverOverlap(t *testing.T) {
	for name, open := range leaseStores() {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			var log runLog
			job := func(name string) ScheduledJob {
				return ScheduledJob{
					Name: name, Schedule: every(3 * time.Millisecond), Leases: leasesOf(&Config{}, name),
					Run: func(ctx context.Context) (*Report, error) {
						return log.run(ctx, func(context.Context) error { time.Sleep(5 * time.Millisecond); return nil })
					},
				}
			}
			var scheds []*Scheduler
			var stops []func() error
			for _, holder := range []string{"daemon-a", "daemon-b"} {
				leases := NewLeases(store, LeaseOptions{TTL: 10 * time.Second, Holder: holder})
				s, err := NewScheduler([]ScheduledJob{job("merge"), job("run")}, SchedulerOptions{Leases: leases, ShutdownGrace: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				scheds = append(scheds, s)
				stops = append(stops, startScheduler(t, s))
			}
			waitFor(t, "12 runs", func() bool { return log.runs.Load() >= 12 })
			for _, stop := range stops {
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			}
			log.checkDisjoint(t)
			var ok, heldSkips float64
			for _, s := range scheds {
				for _, j := range []string{"merge", "run"} {
					ok += gathered(t, s.Metrics(), "sluice_job_runs_total", map[string]string{"job": j, "result": "ok"})
					heldSkips += gathered(t, s.Metrics(), "sluice_job_skipped_total", map[string]string{"job": j, "reason": "lease_held"})
				}
			}
			if int32(ok) != log.runs.Load() {
				t.Errorf("runs_total{ok} summed = %v, the jobs ran %d times", ok, log.runs.Load())
			}
			t.Logf("%d runs, %v ticks skipped because the other daemon held the lease", log.runs.Load(), heldSkips)
		})
	}
}

// A lease left by a crashed daemon is taken over once expired; one held by
// a live daemon makes ticks skip.
func TestSchedulerLeaseHeldElsewhere(t *testing.T) {
	store, _ := fileblob.New(t.TempDir())
	ctx := context.Background()
	// A live holder with a long lease on merge.
	if _, err := NewLeases(store, LeaseOptions{TTL: time.Hour, Holder: "live"}).Acquire(ctx, "merge"); err != nil {
		t.Fatal(err)
	}
	// A crashed holder whose compact lease expired a minute ago.
	past := func() time.Time { return time.Now().Add(-2 * time.Minute) }
	if _, err := NewLeases(store, LeaseOptions{TTL: time.Minute, Holder: "crashed", Now: past}).Acquire(ctx, "compact"); err != nil {
		t.Fatal(err)
	}
	var merges, compacts runLog
	noop := func(context.Context) error { return nil }
	leases := NewLeases(store, LeaseOptions{TTL: 10 * time.Second, Holder: "me"})
	s, err := NewScheduler([]ScheduledJob{
		{Name: "merge", Schedule: every(2 * time.Millisecond), Leases: []string{"merge"},
			Run: func(ctx context.Context) (*Report, error) { return merges.run(ctx, noop) }},
		{Name: "compact", Schedule: every(2 * time.Millisecond), Leases: []string{"compact"},
			Run: func(ctx context.Context) (*Report, error) { return compacts.run(ctx, noop) }},
	}, SchedulerOptions{Leases: leases})
	if err != nil {
		t.Fatal(err)
	}
	stop := startScheduler(t, s)
	held := map[string]string{"job": "merge", "reason": "lease_held"}
	waitFor(t, "skips of merge and runs of compact", func() bool {
		return gathered(t, s.Metrics(), "sluice_job_skipped_total", held) >= 3 && compacts.runs.Load() >= 2
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := merges.runs.Load(); n != 0 {
		t.Errorf("merge ran %d times while another daemon held its lease", n)
	}
	rec, err := leases.latest(ctx, "merge")
	if err != nil || rec.Holder != "live" {
		t.Errorf("merge lease = %+v, %v; want still held by live", rec, err)
	}
}

// SIGTERM (the context ending) lets a run finish within the grace period;
// past it the run is cancelled. Either way the lease is released.
func TestSchedulerShutdown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		grace      time.Duration
		wantResult string
	}{
		{"finishes within grace", time.Hour, ResultOK},
		{"cancelled after grace", 10 * time.Millisecond, ResultCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, _ := fileblob.New(t.TempDir())
			started := make(chan struct{})
			finish := make(chan struct{})
			var once sync.Once
			s, err := NewScheduler([]ScheduledJob{{
				Name: "ingest", Schedule: every(time.Millisecond), Leases: []string{"ingest"},
				Run: func(ctx context.Context) (*Report, error) {
					once.Do(func() { close(started) })
					select {
					case <-finish:
						return nil, nil
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				},
			}}, SchedulerOptions{Leases: NewLeases(store, LeaseOptions{TTL: time.Hour, Holder: "a"}), ShutdownGrace: tc.grace, UnhealthyAfter: 1})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			<-started
			cancel()
			waitFor(t, "shutdown to begin", func() bool { return s.Health() != nil })
			if tc.wantResult == ResultOK {
				close(finish)
			}
			if err := <-done; err != nil {
				t.Fatalf("Run = %v", err)
			}
			if got := gathered(t, s.Metrics(), "sluice_job_runs_total", map[string]string{"job": "ingest", "result": tc.wantResult}); got != 1 {
				t.Errorf("runs_total{%s} = %v, want 1", tc.wantResult, got)
			}
			if got := gathered(t, s.Metrics(), "sluice_job_consecutive_failures", map[string]string{"job": "ingest"}); got != 0 {
				t.Errorf("a shutdown counted as a failure: consecutive failures %v", got)
			}
			if _, err := NewLeases(store, LeaseOptions{TTL: time.Hour, Holder: "b"}).Acquire(context.Background(), "ingest"); err != nil {
				t.Errorf("lease not released at shutdown: %v", err)
			}
		})
	}
}

// /healthz turns 503 after UnhealthyAfter failures in a row and back to 200
// after a success; a run past its timeout counts as a timeout.
func TestSchedulerHealth(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	s, err := NewScheduler([]ScheduledJob{
		{Name: "merge", Schedule: every(2 * time.Millisecond), Run: func(context.Context) (*Report, error) {
			if failing.Load() {
				return nil, fmt.Errorf("merge: %w", errors.New("table shop.orders: boom"))
			}
			return nil, nil
		}},
		{Name: "compact", Schedule: every(2 * time.Millisecond), Timeout: time.Millisecond, Run: func(ctx context.Context) (*Report, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}},
	}, SchedulerOptions{UnhealthyAfter: 3})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHTTPHandler(s.Metrics(), s.Health))
	defer srv.Close()
	status := func() (int, string) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := status(); code != 503 || !strings.Contains(body, "not running") {
		t.Errorf("before Run: %d %q, want 503 not running", code, body)
	}
	startScheduler(t, s)
	waitFor(t, "three failures of merge", func() bool {
		return gathered(t, s.Metrics(), "sluice_job_runs_total", map[string]string{"job": "merge", "result": "failed"}) >= 3
	})
	code, body := status()
	if code != 503 || !strings.Contains(body, "failed runs in a row") || !strings.Contains(body, "boom") {
		t.Errorf("after failures: %d %q, want 503 naming the failing job", code, body)
	}
	if !strings.Contains(body, "job merge") && !strings.Contains(body, "job compact") {
		t.Errorf("reason %q names no job", body)
	}
	if got := gathered(t, s.Metrics(), "sluice_job_runs_total", map[string]string{"job": "compact", "result": "timeout"}); got < 1 {
		t.Errorf("runs_total{compact,timeout} = %v, want >= 1", got)
	}
}

// UnhealthyAfter counts failures in a row: a success resets it.
func TestSchedulerHealthRecovers(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	s, err := NewScheduler([]ScheduledJob{{Name: "merge", Schedule: every(2 * time.Millisecond), Run: func(context.Context) (*Report, error) {
		if failing.Load() {
			return nil, errors.New("boom")
		}
		return nil, nil
	}}}, SchedulerOptions{UnhealthyAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	startScheduler(t, s)
	waitFor(t, "unhealthy", func() bool { return s.Health() != nil })
	failing.Store(false)
	waitFor(t, "healthy again", func() bool { return s.Health() == nil })
	if got := gathered(t, s.Metrics(), "sluice_job_consecutive_failures", map[string]string{"job": "merge"}); got != 0 {
		t.Errorf("consecutive failures after a success = %v, want 0", got)
	}
}

var _ blob.Store = (*failingPuts)(nil)
