package mysql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/capture"
)

// TestLargeTransactionInParts: a transaction larger than MaxTxnChanges
// comes out as Partial batches (no position) and a last batch with the
// position. Parts are cut between rows events (the server splits a big
// statement's rows into events of binlog_row_event_max_size); a
// transaction whose rows all went out in parts still ends with an empty
// last batch carrying its position, so capture.Run can commit the parts.
func TestLargeTransactionInParts(t *testing.T) {
	conn, db, cfg := testDB(t)
	mustExec(t, conn, "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(10))")
	s := newSource(t, cfg, db, func(c *Config) { c.MaxTxnChanges = 100 })
	from := startPosition(t, s)
	mustExec(t, conn, "BEGIN")
	for i := range 250 {
		mustExec(t, conn, fmt.Sprintf("INSERT INTO big VALUES (%d, 'x')", i))
	}
	mustExec(t, conn, "COMMIT")
	mustExec(t, conn, "UPDATE big SET v = 'y' WHERE id < 200")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make(chan capture.Batch, 64)
	errc := make(chan error, 1)
	go func() { errc <- s.Stream(ctx, from, out) }()
	type shape struct {
		n       int
		partial bool
		hasPos  bool
	}
	var got []shape
	for len(got) < 5 {
		select {
		case b := <-out:
			if len(b.Changes) == 0 && !b.Partial && (len(got) == 0 || !got[len(got)-1].partial) {
				continue // a heartbeat
			}
			got = append(got, shape{len(b.Changes), b.Partial, b.Position != ""})
		case err := <-errc:
			t.Fatalf("stream ended: %v (got %v)", err, got)
		case <-ctx.Done():
			t.Fatalf("timeout; got %v", got)
		}
	}
	cancel()
	<-errc
	// Parts split between rows events: the UPDATE of ids 0..199 is one
	// rows event of 200 rows, so one part of 200 and an empty last part.
	want := []shape{{100, true, false}, {100, true, false}, {50, false, true}, {200, true, false}, {0, false, true}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("batch %d = %+v, want %+v (all: %+v)", i, got[i], want[i], got)
		}
	}
}
