package tests

// A seeded generator of PostgreSQL-like change events for the ingest and
// merge kill -9 tests, with the expected final state of every table kept
// independently of sluice's code (plain maps, applied in commit order).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/schemas"
)

// crashRow is a source row of the generated tables (id int PRIMARY KEY,
// name text, amount bigint NULL).
type crashRow struct {
	Name   string
	Amount *int64
}

func (r crashRow) String() string {
	if r.Amount == nil {
		return r.Name + "|NULL"
	}
	return fmt.Sprintf("%s|%d", r.Name, *r.Amount)
}

var crashColumns = []schemas.Column{
	{Name: "id", Type: schemas.Int32},
	{Name: "name", Type: schemas.String, Optional: true},
	{Name: "amount", Type: schemas.Int64, Optional: true},
}

// crashWorkload generates transactions of inserts, updates, deletes (each
// followed by a Kafka tombstone) and re-inserts of deleted keys over a few
// tables, partitioned by key.
type crashWorkload struct {
	rng        *rand.Rand
	prefix     string // topic prefix (source name)
	db         string
	tables     []schemas.TableID
	partitions int32
	padding    int // up to this many random letters per value, so that runs write several files

	lsn, commitLSN uint64
	txID           int64
	nextID         map[string]int32
	state          map[string]map[int32]crashRow // expected source tables
	deleted        map[string][]int32
}

func newCrashWorkload(rng *rand.Rand, prefix, db string, ntables int, partitions int32, padding int) *crashWorkload {
	w := &crashWorkload{rng: rng, prefix: prefix, db: db, partitions: partitions, padding: padding,
		lsn: 0x1000000, commitLSN: 0x1000000, txID: 700,
		nextID: map[string]int32{}, state: map[string]map[int32]crashRow{}, deleted: map[string][]int32{}}
	for i := range ntables {
		id := schemas.TableID{Database: db, Schema: "public", Table: fmt.Sprintf("t%d", i)}
		w.tables = append(w.tables, id)
		w.state[id.String()] = map[int32]crashRow{}
	}
	return w
}

func (w *crashWorkload) topics() []string {
	var out []string
	for _, id := range w.tables {
		out = append(out, id.Topic(w.prefix))
	}
	return out
}

// records generates n changes in transactions of 1–4 changes and returns
// their Kafka records (deletes are followed by a tombstone), updating the
// expected state.
func (w *crashWorkload) records(t testing.TB, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for made := 0; made < n; {
		w.txID++
		size := 1 + w.rng.IntN(4)
		commitTs := int64(1700000000000) + int64(w.txID)*10
		for range size {
			c := w.change(commitTs)
			out = append(out, w.encode(t, c)...)
			made++
		}
		// The next transaction's changes carry this commit's end LSN.
		w.lsn += 0x40
		w.commitLSN = w.lsn
	}
	return out
}

func (w *crashWorkload) change(commitTs int64) *schemas.Change {
	tbl := w.tables[w.rng.IntN(len(w.tables))]
	name := tbl.String()
	live := w.state[name]
	w.lsn += 0x28
	c := &schemas.Change{
		Table: tbl, Columns: crashColumns, Key: []string{"id"},
		Source: schemas.Source{Version: "2.7.1.Final", Connector: schemas.ConnectorPostgres, Name: w.prefix, TsMs: commitTs,
			DB: tbl.Database, Schema: tbl.Schema, Table: tbl.Table, LSN: w.lsn, CommitLSN: w.commitLSN, TxID: w.txID},
		TsMs: commitTs + 5,
	}
	pad := make([]byte, w.rng.IntN(w.padding+1))
	for i := range pad {
		pad[i] = byte('a' + w.rng.IntN(26)) // incompressible-ish, unlike a repeated letter
	}
	row := crashRow{Name: fmt.Sprintf("n%d-%s", w.lsn, pad)}
	if w.rng.IntN(5) > 0 {
		a := w.rng.Int64N(1_000_000) - 500_000
		row.Amount = &a
	}
	image := func(id int32, r crashRow) []any {
		var amount any
		if r.Amount != nil {
			amount = *r.Amount
		}
		return []any{id, r.Name, amount}
	}
	p := w.rng.IntN(100)
	switch {
	case len(live) > 0 && p < 35: // update
		id := w.pickLive(name)
		c.Op = schemas.OpUpdate
		c.Before = image(id, live[id])
		c.After = image(id, row)
		live[id] = row
	case len(live) > 0 && p < 50: // delete
		id := w.pickLive(name)
		c.Op = schemas.OpDelete
		c.Before = image(id, live[id])
		delete(live, id)
		w.deleted[name] = append(w.deleted[name], id)
	default: // insert, sometimes of a key deleted earlier
		var id int32
		if d := w.deleted[name]; len(d) > 0 && p < 60 {
			i := w.rng.IntN(len(d))
			id = d[i]
			w.deleted[name] = slices.Delete(d, i, i+1)
		} else {
			w.nextID[name]++
			id = w.nextID[name]
		}
		c.Op = schemas.OpCreate
		c.After = image(id, row)
		live[id] = row
	}
	return c
}

// pickLive returns a random live key of a table, deterministically (map
// order is random, so keys are sorted first).
func (w *crashWorkload) pickLive(name string) int32 {
	keys := make([]int32, 0, len(w.state[name]))
	for k := range w.state[name] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[w.rng.IntN(len(keys))]
}

func (w *crashWorkload) encode(t testing.TB, c *schemas.Change) []*kgo.Record {
	t.Helper()
	key, err := schemas.EncodeKey(c, true)
	if err != nil {
		t.Fatalf("encode key: %v", err)
	}
	value, err := schemas.EncodeValue(c, true)
	if err != nil {
		t.Fatalf("encode value: %v", err)
	}
	var id int32
	if c.After != nil {
		id = c.After[0].(int32)
	} else {
		id = c.Before[0].(int32)
	}
	r := &kgo.Record{Topic: c.Table.Topic(w.prefix), Partition: id % w.partitions, Key: key, Value: value}
	if c.Op != schemas.OpDelete {
		return []*kgo.Record{r}
	}
	return []*kgo.Record{r, {Topic: r.Topic, Partition: r.Partition, Key: key}}
}

// crashRawRow is one row of the raw table, by column name.
type crashRawRow map[string]any

func (r crashRawRow) position() string {
	return fmt.Sprintf("%s/%d/%d", r["topic"], r["partition"], r["offset"])
}

// crashReadRows reads every row of the table's current snapshot with
// dv.ReadFile (deletion vectors applied), by schema (nil: the snapshot's own schema).
func crashReadRows(t testing.TB, table *lakelog.Table, schema *lakelog.StructType) (*lakelog.Snapshot, []crashRawRow) {
	t.Helper()
	ctx := context.Background()
	snap, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if schema == nil {
		schema = snap.Schema()
	}
	var out []crashRawRow
	for _, add := range snap.Files() {
		rows, err := dv.ReadFile(ctx, table.Store(), nil, add, schema)
		if err != nil {
			t.Fatalf("read %s: %v", add.Path, err)
		}
		for {
			vals, ok := rows.Next()
			if !ok {
				break
			}
			r := crashRawRow{}
			for i, f := range schema.Fields {
				r[f.Name] = vals[i]
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("read %s: %v", add.Path, err)
		}
	}
	return snap, out
}
