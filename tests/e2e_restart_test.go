package tests

// The source database restarting mid-workload: capture, run as the sluice
// command runs it (capture.RunWithRestarts), loses its connection, fails,
// reconnects with backoff and resumes from the position stored in Kafka.
// Each test has a private server (testenv.NewPrivatePostgres/MariaDB), as
// the harness's are shared, and restarts it between chunks of the random
// workload, alternating a clean stop with a crash (immediate stop / SIGKILL,
// then crash recovery), without waiting for capture to catch up, so that
// capture is mid-stream when the server goes away and the writer goes on
// while capture is still reconnecting. After each round the lake must equal
// the source and the raw table must hold no change twice.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

// restartRounds returns rounds of chunks of random writes, each chunk
// followed by a restart of the source; restart gets the restart number
// and whether it is a crash. The choice of crash or clean stop and the
// chunk sizes derive from the workload's seed.
func restartRounds(rounds, chunks int, restart func(n int, crash bool)) []round {
	n := 0
	var rs []round
	for range rounds {
		rs = append(rs, func(ctx context.Context, w *workload.Workload, db workload.Execer) error {
			rng := rand.New(rand.NewPCG(w.Seed(), uint64(n)))
			for range chunks {
				if err := w.Run(ctx, db, 20+rng.IntN(60)); err != nil {
					return err
				}
				n++
				restart(n, rng.IntN(2) == 0)
				db.(interface{ reset() }).reset()
			}
			return w.Run(ctx, db, 20+rng.IntN(60))
		})
	}
	return rs
}

// runSourceRestarts runs the suite (run) with capture under
// RunWithRestarts and rounds that restart the source through restart;
// serverLog is printed on failure.
func runSourceRestarts(t *testing.T, restart func(crash bool), serverLog func() string, run func(setup e2eSetup, rounds []round)) {
	stats := &capture.Stats{}
	var steps []string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("restarts: %v\nserver log:\n%s", steps, serverLog())
		}
	})
	rounds := restartRounds(soakCount(2, 5), soakCount(3, 6), func(n int, crash bool) {
		steps = append(steps, fmt.Sprintf("#%d crash=%v", n, crash))
		restart(crash)
	})
	run(e2eSetup{brokers: testenv.Kafka(t), restarting: true, stats: stats}, rounds)
	t.Logf("%d source restarts (%v); capture restarted %d times", len(steps), steps, stats.Restarts.Load())
	if stats.Restarts.Load() == 0 && !t.Failed() {
		t.Errorf("capture never restarted although the source restarted %d times", len(steps))
	}
}

// TestE2EPostgresSourceRestart restarts a private PostgreSQL 3 times per
// round (2 rounds; soak: 5 rounds of 6).
func TestE2EPostgresSourceRestart(t *testing.T) {
	pg := testenv.NewPrivatePostgres(t)
	runSourceRestarts(t, pg.Restart, pg.Log, func(setup e2eSetup, rounds []round) {
		setup.pgAdmin = pg.DSN()
		dir := t.TempDir()
		store, err := fileblob.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		runPostgresE2EOn(t, setup, store, func() string { return dir }, rounds)
	})
}

// TestE2EMariaDBSourceRestart is the same for a private MariaDB (SIGTERM or
// SIGKILL; each start opens a new binlog file).
func TestE2EMariaDBSourceRestart(t *testing.T) {
	my := testenv.NewPrivateMariaDB(t)
	runSourceRestarts(t, my.Restart, my.Log, func(setup e2eSetup, rounds []round) {
		runMariaDBE2E(t, setup, my.Config(), rounds)
	})
}
