package postgres

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/testenv"
)

// testDB creates a fresh database and returns its DSN. The database (and
// any slot in it) is dropped when the test ends.
func testDB(t testing.TB) string {
	t.Helper()
	admin := testenv.PostgresDSN(t)
	name := testenv.UniqueName("cap")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		// DROP DATABASE drops the database's slots, but refuses while one
		// is active: a walsender can outlive its capture for a moment (a
		// killed process, a Stream that ended on an error). A slot left
		// behind would retain WAL on the server every package shares.
		deadline := time.Now().Add(time.Minute)
		for {
			_, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("drop database %s: %v", name, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return u.String()
}

// testSlot returns a replication slot name for one test run. Slot names
// are global to the server (not per database), and every package's tests
// share it: a fixed name could pick up a slot an earlier test left.
func testSlot(prefix string) string { return testenv.UniqueName(prefix) }

func execSQL(t testing.TB, dsn string, stmts ...string) {
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

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// streamer runs a Source's Stream in the background.
type streamer struct {
	src    *Source
	ch     chan capture.Batch
	cancel context.CancelFunc
	done   chan error
}

func startStream(t testing.TB, cfg Config, from string) *streamer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	src, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	s := &streamer{src: src, ch: make(chan capture.Batch, 1000), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- src.Stream(ctx, from, s.ch) }()
	t.Cleanup(s.stop)
	return s
}

func (s *streamer) stop() {
	s.cancel()
	<-s.done
	s.done <- nil // keep stop idempotent
	s.src.Close()
}

// waitSlot blocks until a walsender streams from the slot, so that writes
// after it are captured. The slot shows up in pg_replication_slots, active,
// as soon as its creation starts; until the creation has found its
// consistent point (it waits for every transaction running on the server,
// other packages' included) commits are not decoded, and cancelling the
// creation drops the slot. A walsender past START_REPLICATION (state
// catchup or streaming) is past both.
func waitSlot(t testing.TB, dsn, slot string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var streaming bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
			WHERE s.slot_name = $1 AND r.state IN ('catchup', 'streaming'))`, slot).Scan(&streaming)
		if err == nil && streaming {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("slot %s never streamed", slot)
}

// collect reads batches until n changes arrived.
func (s *streamer) collect(t testing.TB, n int) ([]capture.Batch, []schemas.Change) {
	t.Helper()
	var batches []capture.Batch
	var changes []schemas.Change
	timeout := time.After(60 * time.Second)
	for len(changes) < n {
		select {
		case b := <-s.ch:
			batches = append(batches, b)
			changes = append(changes, b.Changes...)
		case err := <-s.done:
			s.done <- err
			t.Fatalf("stream ended after %d of %d changes: %v", len(changes), n, err)
		case <-timeout:
			t.Fatalf("timed out after %d of %d changes", len(changes), n)
		}
	}
	return batches, changes
}
