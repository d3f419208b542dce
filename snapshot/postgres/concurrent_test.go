package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
	"github.com/sluicehq/sluice/tests/testenv"
)

// versioned is one key's state in the simulated merge.
type versioned struct {
	ord     string
	v, w    string
	deleted bool
}

// A 50k-row table snapshotted with 4 workers (and views replaced every
// 100ms) while a writer updates, deletes and inserts the same rows. The
// change stream is read from a pgoutput slot created before the snapshot
// (pglogrepl parses it; capture is not involved) and given capture's
// ordering keys (Begin's FinalLSN, the change's LSN). An ordering-guarded
// merge of snapshot rows and stream events must equal the source's final
// contents exactly.
func TestSnapshotOrderedAgainstConcurrentWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	pool, dsn := testPool(t)
	ctx := context.Background()
	name := testenv.UniqueName("snap_conc")
	const n = 50_000
	exec(t, pool, fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, v bigint, w text)`, name))
	exec(t, pool, fmt.Sprintf(`INSERT INTO %s SELECT g, g, 'w' || g FROM generate_series(1, %d) g`, name, n))
	exec(t, pool, fmt.Sprintf(`ANALYZE %s`, name))
	exec(t, pool, fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE %s`, name, name))
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP PUBLICATION `+name) })
	exec(t, pool, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, name)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, name) })

	// The writer: small transactions of random updates, deletes and
	// inserts, including rows that chunks are reading right now.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes int
	var writeErr error
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		next := n + 1
		for {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				writeErr = err
				return
			}
			for range 1 + rng.IntN(4) {
				id := 1 + rng.IntN(next)
				switch r := rng.IntN(10); {
				case r < 6:
					_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET v = v + 1, w = 'u' || $2::text WHERE id = $1`, name), id, strconv.Itoa(writes))
				case r < 8:
					_, err = tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = $1`, name), id)
				default:
					_, err = tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s VALUES ($1, $2, 'i') ON CONFLICT (id) DO UPDATE SET v = -1`, name), next, int64(next))
					next++
				}
				if err != nil {
					_ = tx.Rollback(ctx)
					writeErr = err
					return
				}
			}
			if err := tx.Commit(ctx); err != nil {
				writeErr = err
				return
			}
			writes++
		}
	})

	src, err := New(ctx, Config{DSN: dsn, Tables: []string{"public." + name}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	raw := newRaw(t)
	rep, err := snapshot.Run(ctx, src, raw, snapshot.Config{
		SnapshotID: "conc", TopicPrefix: "pfx", Parallel: 4, ChunkRows: 2500, ViewMaxAge: 100 * time.Millisecond,
	}, nil, testLogger(t))
	// Keep writing a little after the snapshot, then stop.
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	t.Logf("chunks %d, views %d, writer transactions %d", rep.Tables[0].Chunks, len(rep.Tables[0].Views), writes)
	if writes < 10 {
		t.Fatalf("only %d writer transactions ran during the snapshot", writes)
	}

	merged := map[string]*versioned{}
	apply := func(id string, e versioned) {
		if cur, ok := merged[id]; ok && cur.ord >= e.ord {
			return // older or duplicate: the guard keeps the row
		}
		merged[id] = &e
	}
	for _, r := range readRaw(t, raw) {
		id := strconv.FormatInt(int64(r.after["id"].(float64)), 10)
		apply(id, versioned{ord: r.orderingKey, v: strconv.FormatInt(int64(r.after["v"].(float64)), 10), w: r.after["w"].(string)})
	}
	streamed := 0
	for _, e := range readStream(t, name) {
		apply(e.id, e.versioned)
		streamed++
	}
	t.Logf("stream events %d", streamed)

	want := map[string][2]string{}
	rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT id::text, v::text, w FROM %s`, name))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, v, w string
		if err := rows.Scan(&id, &v, &w); err != nil {
			t.Fatal(err)
		}
		want[id] = [2]string{v, w}
	}
	live := 0
	for id, m := range merged {
		if m.deleted {
			if _, ok := want[id]; ok {
				t.Errorf("id %s: merged deleted, source has %v", id, want[id])
			}
			continue
		}
		live++
		if got := [2]string{m.v, m.w}; got != want[id] {
			t.Errorf("id %s: merged %v (ordering key %s), source %v", id, got, m.ord, want[id])
		}
	}
	if live != len(want) {
		t.Errorf("merged rows %d, source rows %d", live, len(want))
	}
}

type streamEvent struct {
	id string
	versioned
}

// readStream decodes every change in the test's pgoutput slot, keyed as
// capture keys them: (Begin.FinalLSN, the message's LSN).
func readStream(t *testing.T, name string) []streamEvent {
	t.Helper()
	pool, _ := testPool(t)
	rows, err := pool.Query(context.Background(),
		`SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2::text)`, name, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []streamEvent
	var commit uint64
	for rows.Next() {
		var lsnText string
		var data []byte
		if err := rows.Scan(&lsnText, &data); err != nil {
			t.Fatal(err)
		}
		lsn, err := parseLSN(lsnText)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := pglogrepl.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		ord := schemas.PostgresOrderingKey(commit, lsn)
		switch m := msg.(type) {
		case *pglogrepl.BeginMessage:
			commit = uint64(m.FinalLSN)
		case *pglogrepl.InsertMessage:
			c := m.Tuple.Columns
			out = append(out, streamEvent{string(c[0].Data), versioned{ord: ord, v: string(c[1].Data), w: string(c[2].Data)}})
		case *pglogrepl.UpdateMessage:
			c := m.NewTuple.Columns
			out = append(out, streamEvent{string(c[0].Data), versioned{ord: ord, v: string(c[1].Data), w: string(c[2].Data)}})
		case *pglogrepl.DeleteMessage:
			out = append(out, streamEvent{string(m.OldTuple.Columns[0].Data), versioned{ord: ord, deleted: true}})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
