package mysql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// versioned is one key's state in the simulated merge.
type versioned struct {
	ord     string
	v, w    string
	deleted bool
}

// A 50k-row table snapshotted with 4 workers (each with its own views,
// replaced every 100ms) while a writer updates, deletes and inserts the
// same rows in small transactions. The binlog is read by capture/mysql
// from a position before the table existed, each change keyed by its
// Source.OrderingKey. An ordering-guarded merge of snapshot rows and
// change events must equal the source's final contents exactly: for each
// row the snapshot saw, exactly the changes whose keys sort before its
// view's key are already in it.
func TestSnapshotOrderedAgainstConcurrentWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	db, name, cfg := testDB(t)
	ctx := context.Background()
	from := binlogPosition(t, db)
	const n = 50_000
	exec(t, db, `CREATE TABLE t (id INT PRIMARY KEY, v BIGINT, w VARCHAR(40))`)
	exec(t, db, fmt.Sprintf(`INSERT INTO t SELECT seq, seq, CONCAT('w', seq) FROM seq_1_to_%d`, n))
	exec(t, db, `ANALYZE TABLE t`)

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
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				writeErr = err
				return
			}
			for range 1 + rng.IntN(4) {
				id := 1 + rng.IntN(next)
				switch r := rng.IntN(10); {
				case r < 6:
					_, err = tx.Exec(`UPDATE t SET v = v + 1, w = ? WHERE id = ?`, "u"+strconv.Itoa(writes), id)
				case r < 8:
					_, err = tx.Exec(`DELETE FROM t WHERE id = ?`, id)
				default:
					_, err = tx.Exec(`INSERT INTO t VALUES (?, ?, 'i') ON DUPLICATE KEY UPDATE v = -1`, next, next)
					next++
				}
				if err != nil {
					_ = tx.Rollback()
					writeErr = err
					return
				}
			}
			if err := tx.Commit(); err != nil {
				writeErr = err
				return
			}
			writes++
		}
	})

	src := newSource(t, cfg, name+".t")
	raw := newRaw(t)
	rep, err := snapshot.Run(ctx, src, raw, snapshot.Config{
		SnapshotID: "conc", TopicPrefix: "pfx", Parallel: 4, ChunkRows: 2500, ViewMaxAge: 100 * time.Millisecond,
	}, nil, testLogger(t))
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
	if len(rep.Tables[0].Views) < 2 {
		t.Errorf("snapshot used %d views, want several (one per worker, renewed)", len(rep.Tables[0].Views))
	}
	exec(t, db, `CREATE TABLE zz_end (id INT PRIMARY KEY)`)
	exec(t, db, `INSERT INTO zz_end VALUES (1)`)

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
	for _, c := range streamChanges(t, cfg, name, from, "zz_end") {
		if c.Table.Table != "t" {
			continue
		}
		ord, err := c.Source.OrderingKey()
		if err != nil {
			t.Fatal(err)
		}
		switch c.Op {
		case schemas.OpDelete:
			apply(strconv.Itoa(int(c.Before[0].(int32))), versioned{ord: ord, deleted: true})
		default:
			apply(strconv.Itoa(int(c.After[0].(int32))), versioned{ord: ord, v: strconv.FormatInt(c.After[1].(int64), 10), w: c.After[2].(string)})
		}
		streamed++
	}
	t.Logf("stream events %d", streamed)

	want := map[string][2]string{}
	rows, err := db.Query(`SELECT id, v, w FROM t`)
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
