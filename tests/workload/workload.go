package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Execer runs one SQL statement on one session (transactions span calls).
type Execer interface {
	Exec(ctx context.Context, sql string) error
}

// Stats counts what Run did.
type Stats struct {
	Inserts, Reinserts, Updates, ToastUpdates, KeyChanges, Deletes int
	Transactions, Rollbacks                                        int
	Alters                                                         int // schema changes (Alter)
}

// Workload is a seeded generator of writes; not safe for concurrent use.
type Workload struct {
	d      Dialect
	seed   uint64
	r      *rand.Rand
	tables []Table
	keys   []*keySet // per table (same index), the keys that exist
	stats  Stats
	log    []string // every statement, shortened
	marker int64
	// pending are the schema changes Alter has not applied yet (nil: all).
	pending []alteration
	// stale, per table, maps a live key to the columns added with a DEFAULT
	// since its row last went out in a change event (see LakeNulls).
	stale []map[string]map[string]bool

	// KeyChangesSetBig makes every primary-key change also assign the big
	// column, so the new row never carries it as an unchanged TOAST value.
	// Off by default: a key change leaving the big column untouched is
	// part of the workload (see the e2e tests for why it is a knob).
	KeyChangesSetBig bool
}

// keySet holds the key tuples (SQL literals) of the rows that exist and of
// rows that were deleted, in insertion order, so picks are reproducible.
type keySet struct {
	live []string
	pos  map[string]int
	dead []string
}

func newKeySet() *keySet { return &keySet{pos: map[string]int{}} }

func (k *keySet) add(key string) {
	k.pos[key] = len(k.live)
	k.live = append(k.live, key)
}

func (k *keySet) remove(key string) {
	i := k.pos[key]
	last := k.live[len(k.live)-1]
	k.live[i] = last
	k.pos[last] = i
	k.live = k.live[:len(k.live)-1]
	delete(k.pos, key)
}

func (k *keySet) clone() *keySet {
	c := &keySet{live: slices.Clone(k.live), pos: make(map[string]int, len(k.pos)), dead: slices.Clone(k.dead)}
	for key, i := range k.pos {
		c.pos[key] = i
	}
	return c
}

// New returns a workload for dialect d whose every choice derives from seed.
func New(d Dialect, seed uint64) *Workload {
	w := &Workload{d: d, seed: seed, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tables: Tables(d)}
	for range w.tables {
		w.keys = append(w.keys, newKeySet())
		w.stale = append(w.stale, map[string]map[string]bool{})
	}
	return w
}

// Seed returns the seed that replays this workload.
func (w *Workload) Seed() uint64 { return w.seed }

// Tables returns the workload's tables, marker table last.
func (w *Workload) Tables() []Table { return w.tables }

// Stats returns the operation counts so far.
func (w *Workload) Stats() Stats { return w.stats }

// Log returns the statements run so far, each cut to 300 bytes.
func (w *Workload) Log() []string { return w.log }

func (w *Workload) exec(ctx context.Context, db Execer, sql string) error {
	short := sql
	if len(short) > 300 {
		short = short[:300] + fmt.Sprintf("…(%d bytes)", len(sql))
	}
	w.log = append(w.log, short)
	if err := db.Exec(ctx, sql); err != nil {
		return fmt.Errorf("workload seed %d: %s: %w", w.seed, short, err)
	}
	return nil
}

// Setup creates the tables.
func (w *Workload) Setup(ctx context.Context, db Execer) error {
	for _, t := range w.tables {
		if err := w.exec(ctx, db, t.CreateSQL(w.d)); err != nil {
			return err
		}
	}
	return nil
}

// Marker inserts the next row of the marker table (ids 1, 2, …) with note
// and returns its id.
func (w *Workload) Marker(ctx context.Context, db Execer, note string) (int64, error) {
	w.marker++
	sql := fmt.Sprintf("INSERT INTO %s (id, note) VALUES (%d, %s)", MarkerTable, w.marker, w.quote(note))
	if err := w.exec(ctx, db, sql); err != nil {
		return 0, err
	}
	return w.marker, nil
}

// Run applies ops random operations (a transaction counts as one).
func (w *Workload) Run(ctx context.Context, db Execer, ops int) error {
	for range ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if w.r.IntN(10) == 0 {
			err = w.transaction(ctx, db)
		} else {
			err = w.op(ctx, db)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *Workload) transaction(ctx context.Context, db Execer) error {
	rollback := w.r.IntN(5) == 0
	var saved []*keySet
	var savedStale []map[string]map[string]bool
	if rollback {
		for i, k := range w.keys {
			saved = append(saved, k.clone())
			savedStale = append(savedStale, cloneStale(w.stale[i]))
		}
	}
	if err := w.exec(ctx, db, "BEGIN"); err != nil {
		return err
	}
	for range 2 + w.r.IntN(6) {
		if err := w.op(ctx, db); err != nil {
			return err
		}
	}
	w.stats.Transactions++
	if rollback {
		w.stats.Rollbacks++
		w.keys, w.stale = saved, savedStale
		return w.exec(ctx, db, "ROLLBACK")
	}
	return w.exec(ctx, db, "COMMIT")
}

// op applies one random statement to a random data table.
func (w *Workload) op(ctx context.Context, db Execer) error {
	ti := []int{0, 0, 1, 2}[w.r.IntN(4)] // e2e_types gets half the writes
	t, ks := w.tables[ti], w.keys[ti]
	roll := w.r.IntN(100)
	switch {
	case len(ks.live) < 3 || roll < 35:
		return w.insert(ctx, db, t, ks)
	case roll < 72:
		return w.update(ctx, db, ti, t, ks)
	case roll < 82:
		return w.changeKey(ctx, db, ti, t, ks)
	default:
		return w.delete(ctx, db, ti, t, ks)
	}
}

// value returns a literal for c, NULL one time in ten for non-key columns.
func (w *Workload) value(c Column) string {
	if !c.Key && w.r.IntN(10) == 0 {
		return "NULL"
	}
	return c.gen(w)
}

// newKey returns the literals of a key that does not exist now.
func (w *Workload) newKey(t Table, ks *keySet) []string {
	for {
		var lits []string
		for _, c := range t.Keys() {
			lits = append(lits, c.gen(w))
		}
		if _, ok := ks.pos[strings.Join(lits, ",")]; !ok {
			return lits
		}
	}
}

func (w *Workload) pick(ks *keySet) (string, []string) {
	key := ks.live[w.r.IntN(len(ks.live))]
	return key, splitKey(key)
}

// splitKey undoes strings.Join(lits, ","): key literals are numbers or
// quoted lowercase ASCII without commas.
func splitKey(key string) []string { return strings.Split(key, ",") }

func where(t Table, lits []string) string {
	var parts []string
	for i, c := range t.Keys() {
		parts = append(parts, c.Name+" = "+lits[i])
	}
	return strings.Join(parts, " AND ")
}

func (w *Workload) insert(ctx context.Context, db Execer, t Table, ks *keySet) error {
	var key []string
	if len(ks.dead) > 0 && w.r.IntN(4) == 0 {
		i := w.r.IntN(len(ks.dead))
		dk := ks.dead[i]
		if _, ok := ks.pos[dk]; !ok {
			key = splitKey(dk)
			w.stats.Reinserts++
		}
		ks.dead = slices.Delete(ks.dead, i, i+1)
	}
	if key == nil {
		key = w.newKey(t, ks)
	}
	var names, vals []string
	ki := 0
	for _, c := range t.Columns {
		names = append(names, c.Name)
		if c.Key {
			vals = append(vals, key[ki])
			ki++
		} else {
			vals = append(vals, w.value(c))
		}
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", t.Name, strings.Join(names, ", "), strings.Join(vals, ", "))
	if err := w.exec(ctx, db, sql); err != nil {
		return err
	}
	ks.add(strings.Join(key, ","))
	w.stats.Inserts++
	return nil
}

// update sets a random non-empty subset of the non-key columns; on a table
// with a big column it leaves that column out two times in three, which in
// PostgreSQL sends it as an unchanged TOAST value.
func (w *Workload) update(ctx context.Context, db Execer, ti int, t Table, ks *keySet) error {
	old, key := w.pick(ks)
	sets := w.sets(t, 1+w.r.IntN(4))
	sql := fmt.Sprintf("UPDATE %s SET %s WHERE %s", t.Name, strings.Join(sets, ", "), where(t, key))
	if err := w.exec(ctx, db, sql); err != nil {
		return err
	}
	// MariaDB logs no row event for an UPDATE that changes nothing (a
	// column set to the value it holds), so there the row may still read
	// NULL in columns added with a default: it stays in LakeNulls, where
	// the check accepts NULL or the value on MariaDB.
	if w.d != MariaDB {
		w.touched(ti, old)
	}
	w.stats.Updates++
	return nil
}

// sets returns n assignments to distinct random non-key columns.
func (w *Workload) sets(t Table, n int) []string {
	var cols []Column
	hasBig := false
	for _, c := range t.Columns {
		if c.Big {
			hasBig = true
		}
		if !c.Key && (!c.Big || w.r.IntN(3) == 0) {
			cols = append(cols, c)
		}
	}
	if hasBig && !slices.ContainsFunc(cols, func(c Column) bool { return c.Big }) {
		w.stats.ToastUpdates++
	}
	w.r.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
	var out []string
	for _, c := range cols[:min(n, len(cols))] {
		out = append(out, c.Name+" = "+w.value(c))
	}
	return out
}

// changeKey moves a row to a new key, sometimes changing other columns too
// (never the big one, so PostgreSQL's new tuple may carry it unchanged).
func (w *Workload) changeKey(ctx context.Context, db Execer, ti int, t Table, ks *keySet) error {
	old, oldLits := w.pick(ks)
	newLits := w.newKey(t, ks)
	var sets []string
	for i, c := range t.Keys() {
		sets = append(sets, c.Name+" = "+newLits[i])
	}
	if w.KeyChangesSetBig {
		for _, c := range t.Columns {
			if c.Big {
				sets = append(sets, c.Name+" = "+c.gen(w))
			}
		}
	}
	if w.r.IntN(2) == 0 {
		for _, s := range w.sets(t, 1) {
			if !strings.HasPrefix(s, "c_big ") {
				sets = append(sets, s)
			}
		}
	}
	sql := fmt.Sprintf("UPDATE %s SET %s WHERE %s", t.Name, strings.Join(sets, ", "), where(t, oldLits))
	if err := w.exec(ctx, db, sql); err != nil {
		return err
	}
	w.touched(ti, old)
	ks.remove(old)
	ks.add(strings.Join(newLits, ","))
	ks.dead = append(ks.dead, old)
	w.stats.KeyChanges++
	return nil
}

func (w *Workload) delete(ctx context.Context, db Execer, ti int, t Table, ks *keySet) error {
	old, lits := w.pick(ks)
	sql := fmt.Sprintf("DELETE FROM %s WHERE %s", t.Name, where(t, lits))
	if err := w.exec(ctx, db, sql); err != nil {
		return err
	}
	w.touched(ti, old)
	ks.remove(old)
	ks.dead = append(ks.dead, old)
	w.stats.Deletes++
	return nil
}
