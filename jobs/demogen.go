package jobs

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// demoGenerator invents the changes of a small shop database (customers,
// orders, order_items in PostgreSQL's public schema), as a PostgreSQL
// capture would emit them: one Debezium change per row change, transactions
// with increasing commit LSNs, a primary-key change as a delete of the old
// key plus a create of the new one. It keeps the rows every table should
// hold after all changes so far, independently of the merge, so that the
// demo (and its test) can check the SCD1 tables against it.
type demoGenerator struct {
	rng   *rand.Rand
	lsn   uint64 // last WAL position handed out
	prev  uint64 // end LSN of the previous transaction (sequence[0])
	txID  int64
	clock time.Time

	tables map[string]*demoTable
	order  []string
	nextID map[string]int64
}

// demoTable is one generated table: its columns and current rows by key.
type demoTable struct {
	id   schemas.TableID
	cols []schemas.Column
	key  []string
	rows map[string][]any // canonical key → row (values aligned with cols)
}

func newDemoGenerator(seed uint64) *demoGenerator {
	g := &demoGenerator{
		rng:    rand.New(rand.NewPCG(seed, seed^0x5eed)),
		lsn:    0x16B3748,
		prev:   0x16B3700,
		txID:   740,
		clock:  time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC),
		tables: map[string]*demoTable{},
		nextID: map[string]int64{},
	}
	add := func(name string, key []string, cols ...schemas.Column) {
		g.tables[name] = &demoTable{id: schemas.TableID{Database: "shop", Schema: "public", Table: name}, cols: cols, key: key, rows: map[string][]any{}}
		g.order = append(g.order, name)
	}
	ts := func(name string) schemas.Column {
		return schemas.Column{Name: name, Type: schemas.String, Semantic: schemas.SemZonedTimestamp, Optional: true}
	}
	add("customers", []string{"id"},
		schemas.Column{Name: "id", Type: schemas.Int32},
		schemas.Column{Name: "name", Type: schemas.String},
		schemas.Column{Name: "email", Type: schemas.String, Optional: true},
		schemas.Column{Name: "city", Type: schemas.String, Optional: true},
		ts("updated_at"))
	add("orders", []string{"id"},
		schemas.Column{Name: "id", Type: schemas.Int64},
		schemas.Column{Name: "customer_id", Type: schemas.Int32},
		schemas.Column{Name: "status", Type: schemas.String},
		schemas.Column{Name: "total_cents", Type: schemas.Int64},
		ts("created_at"))
	add("order_items", []string{"order_id", "line"},
		schemas.Column{Name: "order_id", Type: schemas.Int64},
		schemas.Column{Name: "line", Type: schemas.Int32},
		schemas.Column{Name: "sku", Type: schemas.String},
		schemas.Column{Name: "quantity", Type: schemas.Int32},
		schemas.Column{Name: "gift", Type: schemas.Boolean, Optional: true})
	return g
}

var (
	demoNames  = []string{"Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia"}
	demoCities = []string{"Lisbon", "Oslo", "Austin", "Lagos", "Osaka", "Quito", "Tallinn", "Perth"}
	demoSKUs   = []string{"KB-101", "MS-220", "HD-512", "CB-003", "MN-270", "DK-900"}
	demoStates = []string{"paid", "packed", "shipped", "delivered"}
)

// txn is one source transaction being generated.
type txn struct {
	g       *demoGenerator
	commit  uint64
	tsMs    int64
	changes []schemas.Change
}

func (g *demoGenerator) begin() *txn {
	g.txID++
	g.clock = g.clock.Add(time.Duration(1+g.rng.IntN(5000)) * time.Millisecond)
	return &txn{g: g, commit: g.prev, tsMs: g.clock.UnixMilli()}
}

// end closes the transaction: the next one's sequence[0] is past every LSN
// of this one, as a commit record is.
func (t *txn) end() []schemas.Change {
	t.g.lsn += 0x38
	t.g.prev = t.g.lsn
	return t.changes
}

func (t *txn) emit(table string, op schemas.Op, before, after []any) {
	g := t.g
	dt := g.tables[table]
	g.lsn += 0x28 + uint64(g.rng.IntN(0x40))
	t.changes = append(t.changes, schemas.Change{
		Table: dt.id, Op: op, Columns: dt.cols, Key: dt.key, Before: before, After: after, TsMs: t.tsMs + 3,
		Source: schemas.Source{
			Version: "sluice-demo", Connector: schemas.ConnectorPostgres, Name: "demo", TsMs: t.tsMs,
			DB: dt.id.Database, Schema: dt.id.Schema, Table: dt.id.Table,
			LSN: g.lsn, CommitLSN: t.commit, TxID: g.txID,
		},
	})
	switch op {
	case schemas.OpDelete:
		delete(dt.rows, dt.keyOf(before))
	default:
		dt.rows[dt.keyOf(after)] = after
	}
}

func (dt *demoTable) keyOf(row []any) string {
	var parts []string
	for _, k := range dt.key {
		for i, c := range dt.cols {
			if c.Name == k {
				// Zero-padded numbers sort as numbers.
				switch v := row[i].(type) {
				case int32:
					parts = append(parts, fmt.Sprintf("%012d", v))
				case int64:
					parts = append(parts, fmt.Sprintf("%012d", v))
				default:
					parts = append(parts, fmt.Sprint(v))
				}
			}
		}
	}
	return strings.Join(parts, "|")
}

func (g *demoGenerator) stamp() string { return g.clock.UTC().Format("2006-01-02T15:04:05.000Z") }

func (g *demoGenerator) pick(table string) (string, []any, bool) {
	dt := g.tables[table]
	if len(dt.rows) == 0 {
		return "", nil, false
	}
	keys := make([]string, 0, len(dt.rows))
	for k := range dt.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	k := keys[g.rng.IntN(len(keys))]
	return k, dt.rows[k], true
}

func (g *demoGenerator) newID(table string) int64 { g.nextID[table]++; return g.nextID[table] }

// newCustomer inserts a customer.
func (t *txn) newCustomer() int32 {
	g := t.g
	id := int32(g.newID("customers"))
	name := demoNames[g.rng.IntN(len(demoNames))]
	t.emit("customers", schemas.OpCreate, nil, []any{id, name,
		fmt.Sprintf("%s.%d@example.com", strings.ToLower(name), id), demoCities[g.rng.IntN(len(demoCities))], g.stamp()})
	return id
}

// newOrder inserts an order with 1–3 items for a random customer.
func (t *txn) newOrder() {
	g := t.g
	_, c, ok := g.pick("customers")
	if !ok {
		return
	}
	oid := g.newID("orders")
	var total int64
	items := 1 + g.rng.IntN(3)
	for line := 1; line <= items; line++ {
		qty := int32(1 + g.rng.IntN(4))
		total += int64(qty) * int64(500+g.rng.IntN(9500))
		var gift any
		if g.rng.IntN(4) == 0 {
			gift = true
		}
		defer t.emit("order_items", schemas.OpCreate, nil, []any{oid, int32(line), demoSKUs[g.rng.IntN(len(demoSKUs))], qty, gift})
	}
	t.emit("orders", schemas.OpCreate, nil, []any{oid, c[0], "new", total, g.stamp()})
}

// Round 0 loads a starting data set; later rounds mix updates, deletes, new
// rows and one primary-key change.
func (g *demoGenerator) round(n int) [][]schemas.Change {
	var txns [][]schemas.Change
	if n == 0 {
		for i := 0; i < 8; i++ {
			t := g.begin()
			t.newCustomer()
			txns = append(txns, t.end())
		}
		for i := 0; i < 12; i++ {
			t := g.begin()
			t.newOrder()
			txns = append(txns, t.end())
		}
		return txns
	}
	for i := 0; i < 10; i++ {
		t := g.begin()
		switch g.rng.IntN(6) {
		case 0: // a customer moves
			if _, c, ok := g.pick("customers"); ok {
				after := append([]any(nil), c...)
				after[3], after[4] = demoCities[g.rng.IntN(len(demoCities))], g.stamp()
				t.emit("customers", schemas.OpUpdate, nil, after)
			}
		case 1, 2: // an order moves on, sometimes twice in one transaction
			if _, o, ok := g.pick("orders"); ok {
				after := append([]any(nil), o...)
				for s := 0; s < 1+g.rng.IntN(2); s++ {
					after[2] = demoStates[g.rng.IntN(len(demoStates))]
					t.emit("orders", schemas.OpUpdate, nil, append([]any(nil), after...))
				}
			}
		case 3: // a line is removed
			if _, it, ok := g.pick("order_items"); ok {
				t.emit("order_items", schemas.OpDelete, it, nil)
			}
		case 4:
			t.newOrder()
		case 5:
			t.newCustomer()
		}
		txns = append(txns, t.end())
	}
	if n == 1 {
		// A primary-key change: PostgreSQL's capture (like Debezium) emits a
		// delete of the old key and a create of the new one.
		if _, c, ok := g.pick("customers"); ok {
			t := g.begin()
			after := append([]any(nil), c...)
			after[0] = int32(1000 + g.newID("customers"))
			after[4] = g.stamp()
			t.emit("customers", schemas.OpDelete, c, nil)
			t.emit("customers", schemas.OpCreate, nil, after)
			txns = append(txns, t.end())
		}
	}
	if n == 2 {
		// A customer leaves: their row goes (orders stay, as without an FK).
		if _, c, ok := g.pick("customers"); ok {
			t := g.begin()
			t.emit("customers", schemas.OpDelete, c, nil)
			txns = append(txns, t.end())
		}
	}
	return txns
}

// expected returns each table's rows, sorted by key, as column → value.
func (g *demoGenerator) expected() map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, name := range g.order {
		dt := g.tables[name]
		keys := make([]string, 0, len(dt.rows))
		for k := range dt.rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		rows := []map[string]any{}
		for _, k := range keys {
			m := map[string]any{}
			for i, c := range dt.cols {
				m[c.Name] = dt.rows[k][i]
			}
			rows = append(rows, m)
		}
		out[dt.id.String()] = rows
	}
	return out
}
