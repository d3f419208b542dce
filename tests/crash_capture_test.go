package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestCrashCaptureKill9 SIGKILLs the PostgreSQL capture process at random
// moments while a writer commits inserts, updates and deletes, and starts it
// again, at least 20 times. Then writing stops, capture catches up, and a
// read_committed consumer must find every committed change exactly once
// (Kafka transactions make capture exactly-once), each key's changes in
// commit order.
func TestCrashCaptureKill9(t *testing.T) {
	brokers := testenv.Kafka(t)
	dsn := crashDatabase(t)
	bin := crashRunner(t)
	seed, rng := crashSeed(t)
	t.Logf("seed %d", seed)
	ctx := context.Background()

	crashExec(t, dsn, `CREATE TABLE crash_cap (id int PRIMARY KEY, v bigint NOT NULL)`)
	prefix := testenv.UniqueName("crashc")
	slot := testenv.UniqueName("crashslot")
	topic := prefix + ".public.crash_cap"
	start := func() *crashChild {
		maxTxn := []string{"0", "3", "40"}[rng.IntN(3)]
		return startCrashChild(t, bin, []string{"SLUICE_PG_DSN=" + dsn}, "capture", "-kafka", strings.Join(brokers, ","),
			"-prefix", prefix, "-slot", slot, "-publication", slot, "-tables", "public.crash_cap", "-max-txn-records", maxTxn)
	}
	c := start()
	crashWaitSlot(t, dsn, slot, true, c)

	// The writer commits small transactions until stopped and records every
	// committed change as "c/id/v", "u/id/v" or "d/id": v is unique per
	// change, so each change has exactly one identity.
	wr := &crashWriter{rng: rand.New(rand.NewPCG(seed, 1)), live: map[int]bool{}}
	stopWriting := make(chan struct{})
	var writing sync.WaitGroup
	writing.Add(1)
	go func() {
		defer writing.Done()
		if err := wr.run(ctx, dsn, stopWriting); err != nil {
			t.Errorf("writer: %v", err)
		}
	}()

	wantKills, maxAttempts := soakCount(30, 200), soakCount(60, 400)
	kills, selfExits := 0, 0
	began := time.Now()
	for attempt := 0; kills < wantKills && attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			// The walsender notices the dead client's closed socket; wait
			// until the slot is free, or the new process fails on it.
			crashWaitSlot(t, dsn, slot, false, nil)
			c = start()
		}
		time.Sleep(time.Duration(50+rng.IntN(750)) * time.Millisecond)
		if c.kill() {
			kills++
		} else {
			selfExits++
			t.Logf("attempt %d: capture exited by itself (%v): %s", attempt, c.err, c.tail())
		}
	}
	close(stopWriting)
	writing.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d kills, %d early exits in %v; writer committed %d transactions, %d changes",
		kills, selfExits, time.Since(began).Round(time.Millisecond), wr.txns, len(wr.changes))
	if kills < wantKills {
		t.Fatalf("only %d kills landed on a running capture, want %d", kills, wantKills)
	}

	// Catch up, stop cleanly, then read everything once more.
	crashWaitSlot(t, dsn, slot, false, nil)
	c = start()
	want := map[string]bool{}
	for _, ch := range wr.changes {
		want[ch] = true
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var events []crashEvent
	seen := map[string]bool{}
	poll := func(until func() bool, d time.Duration) {
		deadline := time.Now().Add(d)
		for !until() && time.Now().Before(deadline) {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			fs := cl.PollFetches(pctx)
			cancel()
			fs.EachError(func(topic string, p int32, err error) {
				if err != context.DeadlineExceeded {
					t.Logf("fetch %s[%d]: %v", topic, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				e := decodeCrashEvent(t, r)
				events = append(events, e)
				seen[e.id] = true
			})
		}
	}
	allSeen := func() bool {
		for id := range want {
			if !seen[id] {
				return false
			}
		}
		return true
	}
	poll(allSeen, 3*time.Minute)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.wait(t, time.Minute); err != nil {
		t.Errorf("capture after SIGTERM: %v\n%s", err, c.tail())
	}
	idle := time.Now().Add(3 * time.Second)
	poll(func() bool { return time.Now().After(idle) }, 10*time.Second)

	var missing []string
	for _, id := range wr.changes {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d committed changes never arrived, e.g. %v", len(missing), len(want), missing[:min(10, len(missing))])
	}
	count := map[string]int{}
	byOrdering := map[string]string{}
	lastOrdering := map[string]string{} // per key, in partition order
	for _, e := range events {
		count[e.id]++
		if count[e.id] == 2 {
			t.Errorf("change %s (ordering key %s) arrived twice", e.id, e.ordering)
		}
		if !want[e.id] {
			t.Errorf("change %s was never committed by the writer", e.id)
		}
		ko := e.key + "@" + e.ordering
		if prev, ok := byOrdering[ko]; ok && prev != e.id {
			t.Errorf("key %s: ordering key %s used by %s and %s", e.key, e.ordering, prev, e.id)
		}
		byOrdering[ko] = e.id
		if count[e.id] == 1 {
			if last := lastOrdering[e.key]; e.ordering <= last {
				t.Errorf("key %s: change %s (ordering key %s) after ordering key %s", e.key, e.id, e.ordering, last)
			}
			lastOrdering[e.key] = e.ordering
		}
	}
	t.Logf("consumed %d events for %d committed changes", len(events), len(want))
}

// crashEvent is one change event read back from Kafka.
type crashEvent struct {
	id       string // "c/id/v", "u/id/v" or "d/id", as the writer records
	key      string
	ordering string
}

func decodeCrashEvent(t *testing.T, r *kgo.Record) crashEvent {
	t.Helper()
	env, err := schemas.DecodeEnvelope(r.Value)
	if err != nil {
		t.Fatalf("record %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
	}
	field := func(fields []schemas.Field, name string) string {
		for _, f := range fields {
			if f.Name == name {
				return string(f.Raw)
			}
		}
		return "?"
	}
	ord, err := env.Source.OrderingKey()
	if err != nil {
		t.Fatalf("record %s[%d]@%d: ordering key: %v", r.Topic, r.Partition, r.Offset, err)
	}
	e := crashEvent{ordering: ord}
	switch env.Op {
	case schemas.OpDelete:
		e.key = field(env.Before, "id")
		e.id = "d/" + e.key
	default:
		e.key = field(env.After, "id")
		e.id = fmt.Sprintf("%s/%s/%s", env.Op, e.key, field(env.After, "v"))
	}
	return e
}

// crashWriter commits transactions of 1–3 changes to crash_cap.
type crashWriter struct {
	rng     *rand.Rand
	live    map[int]bool
	nextID  int
	seq     int64
	txns    int
	changes []string // committed, in commit order
}

func (w *crashWriter) run(ctx context.Context, dsn string, stop <-chan struct{}) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		var changes []string
		live := func() []int { // sorted, for a deterministic pick
			var ids []int
			for id := 1; id <= w.nextID; id++ {
				if w.live[id] {
					ids = append(ids, id)
				}
			}
			return ids
		}
		deleted := map[int]bool{}
		for range 1 + w.rng.IntN(3) {
			w.seq++
			ids := live()
			p := w.rng.IntN(100)
			switch {
			case len(ids) > 5 && p < 40:
				id := ids[w.rng.IntN(len(ids))]
				if _, err := tx.Exec(ctx, `UPDATE crash_cap SET v = $1 WHERE id = $2`, w.seq, id); err != nil {
					return err
				}
				changes = append(changes, fmt.Sprintf("u/%d/%d", id, w.seq))
			case len(ids) > 5 && p < 50:
				id := ids[w.rng.IntN(len(ids))]
				if _, err := tx.Exec(ctx, `DELETE FROM crash_cap WHERE id = $1`, id); err != nil {
					return err
				}
				w.live[id] = false
				deleted[id] = true
				changes = append(changes, fmt.Sprintf("d/%d", id))
			default:
				w.nextID++
				if _, err := tx.Exec(ctx, `INSERT INTO crash_cap VALUES ($1, $2)`, w.nextID, w.seq); err != nil {
					return err
				}
				w.live[w.nextID] = true
				changes = append(changes, fmt.Sprintf("c/%d/%d", w.nextID, w.seq))
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		w.txns++
		w.changes = append(w.changes, changes...)
		time.Sleep(time.Duration(5+w.rng.IntN(20)) * time.Millisecond)
	}
}

// crashDatabase creates a fresh PostgreSQL database and returns its DSN;
// it and its replication slots are dropped when the test ends.
func crashDatabase(t *testing.T) string {
	t.Helper()
	admin := testenv.PostgresDSN(t)
	name := testenv.UniqueName("crash")
	crashExec(t, admin, "CREATE DATABASE "+name)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		for range 50 { // a killed walsender may take a moment to release its slot
			_, _ = c.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, name)
			var n int
			if c.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, name).Scan(&n) == nil && n == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, _ = c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
	})
	return u.String()
}

func crashExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// crashWaitSlot waits until the slot exists and its "active" flag is
// active; c, when given, is the capture whose early exit ends the wait.
func crashWaitSlot(t *testing.T, dsn, slot string, active bool, c *crashChild) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	query := `SELECT active FROM pg_replication_slots WHERE slot_name = $1`
	if active {
		query = slotStreamingSQL
	}
	for range 2400 {
		var a bool
		err := conn.QueryRow(ctx, query, slot).Scan(&a)
		if err == nil && a == active {
			return
		}
		if c != nil && c.exited() {
			t.Fatalf("capture exited while waiting for slot %s: %v\n%s", slot, c.err, c.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("slot %s never became active=%v", slot, active)
}
