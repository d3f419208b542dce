package merge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/schemas"
)

// crashStore simulates kill -9: after `after` operations every call fails
// and does nothing, except that the crashing call itself may land first
// (a write that reached the store before the process died).
type crashStore struct {
	blob.Store
	after   int64
	landing bool
	ops     atomic.Int64
	// kill cancels the run's context, as the process's death stops all
	// its retries at once.
	kill context.CancelFunc
}

var errCrashed = errors.New("process killed")

func (s *crashStore) crashed(landFirst func() error) error {
	n := s.ops.Add(1)
	if s.after <= 0 || n < s.after {
		return landFirst()
	}
	if n == s.after && s.landing {
		_ = landFirst()
	}
	s.kill()
	return errCrashed
}

func (s *crashStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := s.crashed(func() error { var err error; rc, err = s.Store.Get(ctx, key); return err })
	if err != nil && rc != nil {
		rc.Close()
		rc = nil
	}
	return rc, err
}

func (s *crashStore) Put(ctx context.Context, key string, data []byte) error {
	return s.crashed(func() error { return s.Store.Put(ctx, key, data) })
}

func (s *crashStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return s.crashed(func() error { return s.Store.PutIfAbsent(ctx, key, data) })
}

func (s *crashStore) Delete(ctx context.Context, key string) error {
	return s.crashed(func() error { return s.Store.Delete(ctx, key) })
}

func (s *crashStore) List(ctx context.Context, prefix string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		if err := s.crashed(func() error { return nil }); err != nil {
			yield(blob.Object{}, err)
			return
		}
		for o, err := range s.Store.List(ctx, prefix) {
			if !yield(o, err) {
				return
			}
		}
	}
}

// crashScript is the raw data of the crash trials: two tables, inserts,
// updates, TOAST, deletes, late events, a new column, spread over batches.
var crashScript = []string{
	"schema a\nid int32 key\nv string\nn int64",
	"schema b\nk string key\nx double",
	"a c 10 id=1 v=a n=1\na c 11 id=2 v=b n=2\na c 12 id=3 v=c n=3\nb c 13 k=p x=1.5\nb c 14 k=q x=2.5",
	"a u 20 id=1 v=? n=10\na d 21 id=2\nb u 22 k=p x=3.5\na c 23 id=4 v=d n=4",
	"a u 15 id=1 v=late n=0\na u 16 id=2 v=zombie n=0\nb d 30 k=q\na u 31 before(id=3) id=5 v=e n=5",
	"schema a\nid int32 key\nv string\nn int64\nw string",
	"a u 40 id=1 v=? n=11 w=new\na c 41 id=2 v=back n=2 w=x\nb c 42 k=r x=9",
}

// playCrash runs the script; merge runs after each raw batch through
// merge(), which may crash and is then rerun until it succeeds.
func playCrash(t *testing.T, warehouse blob.Store, merge func(env *scd1Env) error) *scd1Env {
	t.Helper()
	return playScript(t, crashScript, nil, warehouse, merge)
}

// playScript is playCrash for any script; setup, when set, adjusts the
// environment (e.g. its table configs) first. A step "snapshot <events>"
// is committed as a sluice snapshot's chunk (with its txn appId).
func playScript(t *testing.T, script []string, setup func(env *scd1Env), warehouse blob.Store, merge func(env *scd1Env) error) *scd1Env {
	t.Helper()
	env := newSCD1Env(t)
	env.warehouse = warehouse
	if setup != nil {
		setup(env)
	}
	for i, step := range script {
		if name, ok := strings.CutPrefix(step, "schema "); ok {
			lines := strings.SplitN(name, "\n", 2)
			tt := &testTable{id: tableIDOf("db.public." + lines[0])}
			for _, l := range strings.Split(lines[1], "\n") {
				c, key, err := testColumn(l)
				if err != nil {
					t.Fatal(err)
				}
				tt.cols = append(tt.cols, c)
				if key {
					tt.key = append(tt.key, c.Name)
				}
			}
			env.tables[tt.id.Table] = tt
			continue
		}
		if rest, ok := strings.CutPrefix(step, "snapshot "); ok {
			step = rest
			env.raw.nextAppIDs = []string{schemas.SnapshotAppIDPrefix + "s1|script|" + strconv.Itoa(i)}
		}
		var changes = parseEvents(t, env, step)
		if _, err := env.raw.append(context.Background(), changes, true); err != nil {
			t.Fatal(err)
		}
		if err := merge(env); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func dumpAll(t *testing.T, env *scd1Env, warehouse blob.Store) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"db.public.a", "db.public.b"} {
		loc := DefaultLocation(env.cfg.TablesRoot, tableIDOf(name))
		s, err := dumpTable(context.Background(), lakelog.Open(blob.Sub(warehouse, loc), lakelog.Options{}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b.WriteString(name + "\n" + s)
	}
	return b.String()
}

// TestCrashTrials kills the merge at a random store operation (≥30
// seeded trials, sometimes after the write landed), reruns it, and checks
// that the tables equal those of an uninterrupted run.
func TestCrashTrials(t *testing.T) {
	crashTrials(t, crashScript, nil)
}

func crashTrials(t *testing.T, script []string, setup func(env *scd1Env)) {
	ctx := context.Background()
	clean := memblob.New()
	env := playScript(t, script, setup, clean, func(env *scd1Env) error {
		_, err := Run(ctx, env.raw.table, clean, env.cfg, nil)
		return err
	})
	want := dumpAll(t, env, clean)
	if strings.Contains(want, "zombie") || strings.Contains(want, "| late") {
		t.Fatalf("reference run resurrected a row:\n%s", want)
	}
	trials := 40
	if testing.Short() {
		trials = 10
	}
	crashes := 0
	for seed := 1; seed <= trials; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		store := memblob.New()
		env := playScript(t, script, setup, store, func(env *scd1Env) error {
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			cs := &crashStore{Store: store, after: 1 + rng.Int64N(60), landing: rng.IntN(2) == 0, kill: cancel}
			if _, err := Run(runCtx, env.raw.table, cs, env.cfg, nil); err != nil {
				if !errors.Is(err, errCrashed) && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("seed %d: crashed run: unexpected error %w", seed, err)
				}
				crashes++
			}
			_, err := Run(ctx, env.raw.table, store, env.cfg, nil)
			return err
		})
		if got := dumpAll(t, env, store); got != want {
			t.Errorf("seed %d: tables differ after crash + rerun\ngot:\n%s\nwant:\n%s", seed, got, want)
		}
	}
	if crashes < trials {
		t.Errorf("only %d of %d×5 merges crashed; the trials do not exercise crashes", crashes, trials)
	}
}

func tableIDOf(name string) schemas.TableID {
	parts := strings.Split(name, ".")
	id := schemas.TableID{Database: parts[0], Table: parts[len(parts)-1]}
	if len(parts) == 3 {
		id.Schema = parts[1]
	}
	return id
}

func parseEvents(t *testing.T, env *scd1Env, input string) []*schemas.Change {
	t.Helper()
	var out []*schemas.Change
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		c, err := env.parseEvent(line)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}
