package tests

// In-process fault tests of ingest and merge: the object store failing
// (faultblob: 503 before or after the write, latency), the Kafka broker
// failing (kfake control hooks: dropped connections, leader moves), and two
// ingests and two merges racing on one lake. Every run that fails is rerun
// until it succeeds; at the end the raw table must hold every produced
// record exactly once and every SCD1 table must equal the expected source
// state kept by crashWorkload (plain maps, not our code).
//
// Seeds: SLUICE_FAULT_SEED replays one; SLUICE_SOAK=1 runs many seeds and
// rounds (make soak).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/faultblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/merge"
)

const faultTablesRoot = "scd1"

// soak reports whether the long variants run (SLUICE_SOAK=1, make soak).
func soak() bool { return os.Getenv("SLUICE_SOAK") == "1" }

// faultSeeds returns the seeds to run: SLUICE_FAULT_SEED alone when set,
// else n fresh ones (soakN under SLUICE_SOAK=1, 1 under -short).
func faultSeeds(t *testing.T, n, soakN int) []uint64 {
	t.Helper()
	if s := os.Getenv("SLUICE_FAULT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SLUICE_FAULT_SEED: %v", err)
		}
		return []uint64{v}
	}
	switch {
	case soak():
		n = soakN
	case testing.Short():
		n = 1
	}
	base := uint64(time.Now().UnixNano())
	var out []uint64
	for i := range n {
		out = append(out, base+uint64(i)*0x9e3779b97f4a7c15)
	}
	return out
}

// faultRig is one lake fed from one in-process kfake cluster.
type faultRig struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	cluster *kfake.Cluster
	brokers []string
	w       *crashWorkload
	store   blob.Store // what ingest and merge see (maybe a faultblob)
	clean   blob.Store // the same objects, without faults (for checks)
	regex   string
	group   string

	produced map[string][]byte
	steps    []string // what happened, printed on failure
	failures atomic.Int64
}

func newFaultRig(t *testing.T, seed uint64, nbrokers int, wrap func(blob.Store) blob.Store) *faultRig {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(nbrokers), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	rng := rand.New(rand.NewPCG(seed, seed^0xfa17))
	prefix := fmt.Sprintf("fault%d", seed%100000)
	r := &faultRig{t: t, seed: seed, rng: rng, cluster: c, brokers: c.ListenAddrs(),
		w: newCrashWorkload(rng, prefix, "shop", 2, 2, 30), clean: memblob.New(),
		regex: regexp.QuoteMeta(prefix) + `\..*`, group: prefix, produced: map[string][]byte{}}
	r.store = r.clean
	if wrap != nil {
		r.store = wrap(r.clean)
	}
	crashCreateTopics(t, r.brokers, 2, r.w.topics()...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d; replay with SLUICE_FAULT_SEED=%d go test -run '%s' ./tests/\nsteps:\n  %s",
				seed, seed, t.Name(), strings.Join(r.steps[max(0, len(r.steps)-60):], "\n  "))
		}
	})
	return r
}

func (r *faultRig) step(format string, args ...any) {
	r.steps = append(r.steps, fmt.Sprintf(format, args...))
}

func (r *faultRig) produce(n int) {
	recs := r.w.records(r.t, n)
	crashProduce(r.t, r.brokers, recs)
	for _, rec := range recs {
		r.produced[fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset)] = rec.Value
	}
	r.step("produced %d changes (%d records in total)", n, len(r.produced))
}

func (r *faultRig) raw(store blob.Store) *lakelog.Table {
	return lakelog.Open(blob.Sub(store, "raw/cdc"), lakelog.Options{})
}

// ingestOnce runs one available-now ingest on store.
func (r *faultRig) ingestOnce(ctx context.Context, store blob.Store) (*ingest.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return ingest.Run(ctx, ingest.Config{
		Brokers: r.brokers, TopicRegex: r.regex, GroupID: r.group,
		ReadTimeout: 15 * time.Second, TargetFileBytes: 16 << 10,
	}, r.raw(store), lakelog.Open(blob.Sub(store, "raw/dead_letters"), lakelog.Options{}), e2eLogger(r.t))
}

// mergeOnce runs one merge on store; a failed table is a failure.
func (r *faultRig) mergeOnce(ctx context.Context, store blob.Store) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rep, err := merge.Run(ctx, r.raw(store), store, merge.Config{TablesRoot: faultTablesRoot, TargetFileRows: 40}, e2eLogger(r.t))
	if err != nil {
		return err
	}
	for _, tr := range rep.Tables {
		if tr.Err != nil {
			return fmt.Errorf("table %s: %w", tr.Table, tr.Err)
		}
	}
	return nil
}

// untilOK reruns run until it succeeds, at most attempts times, counting
// the failures; an error that is not an injected fault is logged with the
// step so that a real bug stands out from the noise.
func (r *faultRig) untilOK(what string, attempts int, run func() error) {
	r.t.Helper()
	for i := range attempts {
		err := run()
		if err == nil {
			r.step("%s: ok after %d failed attempts", what, i)
			return
		}
		r.failures.Add(1)
		r.step("%s attempt %d: %v", what, i, short(err.Error()))
	}
	r.t.Fatalf("seed %d: %s did not succeed in %d attempts", r.seed, what, attempts)
}

// check verifies the lake through the clean store: every produced record
// once in the raw table, every SCD1 table equal to the expected state.
func (r *faultRig) check(what string) {
	r.t.Helper()
	snap, rows := crashReadRows(r.t, r.raw(r.clean), ingest.RawSchema())
	got := crashCheckRaw(r.t, what, snap, rows, r.produced)
	if len(got) != len(r.produced) {
		r.t.Errorf("%s: raw table holds %d of %d produced records", what, len(got), len(r.produced))
	}
	for _, id := range r.w.tables {
		want := map[string]string{}
		for k, row := range r.w.state[id.String()] {
			want[fmt.Sprint(k)] = row.String()
		}
		tbl := lakelog.Open(blob.Sub(r.clean, merge.DefaultLocation(faultTablesRoot, id)), lakelog.Options{})
		if _, err := tbl.Snapshot(context.Background()); errors.Is(err, lakelog.ErrNoTable) && len(want) == 0 {
			continue
		}
		_, trows := crashReadRows(r.t, tbl, nil)
		gotRows := map[string]string{}
		for _, row := range trows {
			k := fmt.Sprint(row["id"])
			if _, dup := gotRows[k]; dup {
				r.t.Errorf("%s: %s: key %s appears twice", what, id, k)
			}
			gotRows[k] = crashRowString(row["name"], row["amount"])
		}
		crashCompareRows(r.t, fmt.Sprintf("seed %d: %s: %s", r.seed, what, id), gotRows, want)
	}
}

// TestFaultObjectStore runs ingest and merge on an object store that fails
// 503 before or after the call (the write landed but the caller saw an
// error) and is slow, rerunning each until it succeeds.
func TestFaultObjectStore(t *testing.T) {
	rounds := soakCount(4, 12)
	var faults faultblob.Stats
	var reruns int64
	for _, seed := range faultSeeds(t, 2, 25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			var fb *faultblob.Store
			rule := faultblob.Rule{FailBefore: 0.03, FailAfter: 0.03, MaxLatency: 2 * time.Millisecond}
			r := newFaultRig(t, seed, 1, func(inner blob.Store) blob.Store {
				fb = faultblob.New(inner, rand.New(rand.NewPCG(seed, 0xb10b)), rule)
				return fb
			})
			// A run makes more store calls as the lake grows, and at 6% per
			// call a long run rarely gets through (make soak's 12 rounds):
			// after every 40 failed attempts in a row the error rate halves,
			// as an outage eases. A real bug still fails all 200.
			eased := 0
			easing := func(run func() error) func() error {
				failed := 0
				return func() error {
					err := run()
					if err == nil {
						fb.SetRules(rule)
						return nil
					}
					if failed++; failed%40 == 0 {
						less := rule
						less.FailBefore /= float64(int(1) << (failed / 40))
						less.FailAfter = less.FailBefore
						fb.SetRules(less)
						eased++
						r.step("%d failed attempts: store error rate eased to %.2f%% per call", failed, 200*less.FailBefore)
					}
					return err
				}
			}
			ctx := context.Background()
			for round := range rounds {
				r.produce(100 + r.rng.IntN(300))
				r.untilOK(fmt.Sprintf("round %d ingest", round), 200, easing(func() error { _, err := r.ingestOnce(ctx, r.store); return err }))
				r.untilOK(fmt.Sprintf("round %d merge", round), 200, easing(func() error { return r.mergeOnce(ctx, r.store) }))
				r.check(fmt.Sprintf("round %d", round))
				if t.Failed() {
					return
				}
			}
			s := fb.Stats()
			faults.Before += s.Before
			faults.After += s.After
			reruns += r.failures.Load()
			t.Logf("seed %d: %d rounds, %d records; faults injected: %d before, %d after the call; %d failed runs rerun; error rate eased %d times",
				seed, rounds, len(r.produced), s.Before, s.After, r.failures.Load(), eased)
		})
	}
	t.Logf("total: faults %d before + %d after, %d reruns", faults.Before, faults.After, reruns)
}

// TestFaultKafkaBroker runs ingest against a 3-broker kfake whose requests
// fail at random (the connection is dropped, as when a broker restarts) and
// whose partition leaders move between runs, rerunning until it succeeds.
func TestFaultKafkaBroker(t *testing.T) {
	rounds := soakCount(4, 12)
	for _, seed := range faultSeeds(t, 1, 15) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := newFaultRig(t, seed, 3, nil)
			frng := rand.New(rand.NewPCG(seed, 0xca7ca))
			var mu sync.Mutex
			var injected atomic.Int64
			var on atomic.Bool
			r.cluster.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
				r.cluster.KeepControl()
				if !on.Load() {
					return nil, nil, false
				}
				mu.Lock()
				drop := frng.IntN(100) < 10
				mu.Unlock()
				if !drop {
					return nil, nil, false
				}
				injected.Add(1)
				return nil, fmt.Errorf("injected: connection dropped on %s", kmsg.NameForKey(req.Key())), true
			})
			ctx := context.Background()
			for round := range rounds {
				r.produce(100 + r.rng.IntN(300))
				on.Store(true)
				if r.rng.IntN(2) == 0 {
					r.cluster.ShufflePartitionLeaders()
					r.step("round %d: partition leaders shuffled", round)
				}
				r.untilOK(fmt.Sprintf("round %d ingest", round), 100, func() error { _, err := r.ingestOnce(ctx, r.store); return err })
				on.Store(false)
				r.untilOK(fmt.Sprintf("round %d merge", round), 5, func() error { return r.mergeOnce(ctx, r.store) })
				r.check(fmt.Sprintf("round %d", round))
				if t.Failed() {
					return
				}
			}
			t.Logf("seed %d: %d rounds, %d records; %d Kafka requests failed by injection; %d failed ingest runs rerun",
				seed, rounds, len(r.produced), injected.Load(), r.failures.Load())
		})
	}
}

// TestFaultRacingJobs runs two ingests and two merges at once on one lake,
// in several rounds, each rerun until it succeeds (a lost commit race may
// surface as an error): nothing may be lost or doubled.
func TestFaultRacingJobs(t *testing.T) {
	rounds := soakCount(4, 12)
	for _, seed := range faultSeeds(t, 2, 25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			// Latency only (no failures): it shuffles how the four jobs'
			// reads, writes and commits interleave.
			r := newFaultRig(t, seed, 1, func(inner blob.Store) blob.Store {
				return faultblob.New(inner, rand.New(rand.NewPCG(seed, 0x1a7e)), faultblob.Rule{MaxLatency: 3 * time.Millisecond})
			})
			ctx := context.Background()
			for round := range rounds {
				r.produce(100 + r.rng.IntN(300))
				var wg sync.WaitGroup
				var mu sync.Mutex
				errs := map[string][]string{}
				race := func(name string, run func() error) {
					defer wg.Done()
					for i := 0; i < 50; {
						err := run()
						if err == nil {
							return
						}
						if errors.Is(err, lakelog.ErrNoTable) {
							// A merge that started before the first ingest
							// commit: nothing to merge yet, not a failure.
							time.Sleep(10 * time.Millisecond)
							continue
						}
						i++
						r.failures.Add(1)
						mu.Lock()
						errs[name] = append(errs[name], short(err.Error()))
						mu.Unlock()
					}
					t.Errorf("seed %d round %d: %s did not succeed in 50 attempts: %v", seed, round, name, errs[name])
				}
				wg.Add(4)
				go race("ingest A", func() error { _, err := r.ingestOnce(ctx, r.store); return err })
				go race("ingest B", func() error { _, err := r.ingestOnce(ctx, r.store); return err })
				go race("merge A", func() error { return r.mergeOnce(ctx, r.store) })
				go race("merge B", func() error { return r.mergeOnce(ctx, r.store) })
				wg.Wait()
				for name, es := range errs {
					r.step("round %d %s: %d failed attempts: %v", round, name, len(es), es[:min(3, len(es))])
				}
				// The merges may have raced ahead of the ingests: one more
				// merge, alone, catches up before the check.
				r.untilOK(fmt.Sprintf("round %d final merge", round), 5, func() error { return r.mergeOnce(ctx, r.store) })
				r.check(fmt.Sprintf("round %d", round))
				if t.Failed() {
					return
				}
			}
			t.Logf("seed %d: %d rounds, %d records; %d failed racing runs rerun", seed, rounds, len(r.produced), r.failures.Load())
		})
	}
}

// soakCount returns short normally and long under SLUICE_SOAK=1.
func soakCount(short, long int) int {
	if soak() {
		return long
	}
	return short
}
