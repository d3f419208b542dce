package workload

import (
	"context"
	"maps"
	"slices"
	"strings"
)

// An alteration is one schema change the workload can make mid-stream: a
// nullable column added at the end (with or without a DEFAULT), or a
// column's type widened. apply updates the workload's view of the table,
// so that later writes and the comparison use the live columns.
type alteration struct {
	table string
	sql   string
	apply func(t *Table)
	// withDefault names the added column when the DDL gives it a DEFAULT:
	// the source backfills it for existing rows, but no change event carries
	// that value until a row changes, so those rows read NULL in the lake.
	withDefault string
}

func widen(col, sqlType string, kind Kind, gen func(*Workload) string) func(t *Table) {
	return func(t *Table) {
		i := slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == col })
		t.Columns[i].SQLType, t.Columns[i].Kind, t.Columns[i].gen = sqlType, kind, gen
	}
}

func addColumn(c Column) func(t *Table) {
	return func(t *Table) { t.Columns = append(t.Columns, c) }
}

// alterations returns every schema change of dialect d, in a fixed order;
// the workload applies them in a seeded random order.
func alterations(d Dialect) []alteration {
	if d == MariaDB {
		return []alteration{
			{table: "e2e_types", sql: "ALTER TABLE e2e_types MODIFY c_int bigint",
				apply: widen("c_int", "bigint", KindInt, genInt64)},
			{table: "e2e_types", sql: "ALTER TABLE e2e_types MODIFY c_small int",
				apply: widen("c_small", "int", KindInt, genInt(-2147483648, 2147483647))},
			{table: "e2e_types", sql: "ALTER TABLE e2e_types MODIFY c_float double",
				apply: widen("c_float", "double", KindFloat64, genShortFloat64)},
			{table: "e2e_types", sql: "ALTER TABLE e2e_types MODIFY c_varchar varchar(128)",
				apply: widen("c_varchar", "varchar(128)", KindText, genText(1, 128))},
			{table: "e2e_types", sql: "ALTER TABLE e2e_types MODIFY c_dec decimal(24,4)",
				apply: widen("c_dec", "decimal(24,4)", KindDecimal, genDecimal(20, 4))},
			{table: "e2e_types", sql: "ALTER TABLE e2e_types ADD COLUMN c_added int",
				apply: addColumn(Column{Name: "c_added", SQLType: "int", Kind: KindInt, gen: genInt(-1000, 1000)})},
			{table: "e2e_types", sql: "ALTER TABLE e2e_types ADD COLUMN c_added_dflt varchar(20) DEFAULT 'dflt'",
				apply:       addColumn(Column{Name: "c_added_dflt", SQLType: "varchar(20)", Kind: KindText, gen: genText(0, 20)}),
				withDefault: "c_added_dflt"},
			{table: "e2e_composite", sql: "ALTER TABLE e2e_composite MODIFY tenant bigint",
				apply: widen("tenant", "bigint", KindInt, genInt(1, 5))}, // a key column
			{table: "e2e_composite", sql: "ALTER TABLE e2e_composite MODIFY qty bigint",
				apply: widen("qty", "bigint", KindInt, genInt64)},
			{table: "e2e_composite", sql: "ALTER TABLE e2e_composite MODIFY price decimal(14,2)",
				apply: widen("price", "decimal(14,2)", KindDecimal, genDecimal(12, 2))},
			{table: "e2e_textkey", sql: "ALTER TABLE e2e_textkey MODIFY label varchar(255)",
				apply: widen("label", "varchar(255)", KindText, genText(0, 255))},
			{table: "e2e_textkey", sql: "ALTER TABLE e2e_textkey ADD COLUMN extra bigint DEFAULT 7",
				apply:       addColumn(Column{Name: "extra", SQLType: "bigint", Kind: KindInt, gen: genInt64}),
				withDefault: "extra"},
		}
	}
	return []alteration{
		{table: "e2e_types", sql: "ALTER TABLE e2e_types ALTER COLUMN c_int4 TYPE bigint",
			apply: widen("c_int4", "bigint", KindInt, genInt64)},
		{table: "e2e_types", sql: "ALTER TABLE e2e_types ALTER COLUMN c_int2 TYPE integer",
			apply: widen("c_int2", "integer", KindInt, genInt(-2147483648, 2147483647))},
		{table: "e2e_types", sql: "ALTER TABLE e2e_types ALTER COLUMN c_real TYPE double precision",
			apply: widen("c_real", "double precision", KindFloat64, genFloat64)},
		{table: "e2e_types", sql: "ALTER TABLE e2e_types ALTER COLUMN c_varchar TYPE varchar(128)",
			apply: widen("c_varchar", "varchar(128)", KindText, genText(1, 128))},
		{table: "e2e_types", sql: "ALTER TABLE e2e_types ALTER COLUMN c_num TYPE numeric(24,4)",
			apply: widen("c_num", "numeric(24,4)", KindDecimal, genDecimal(20, 4))},
		{table: "e2e_types", sql: "ALTER TABLE e2e_types ADD COLUMN c_added integer",
			apply: addColumn(Column{Name: "c_added", SQLType: "integer", Kind: KindInt, gen: genInt(-1000, 1000)})},
		{table: "e2e_types", sql: "ALTER TABLE e2e_types ADD COLUMN c_added_dflt varchar(20) DEFAULT 'dflt'",
			apply:       addColumn(Column{Name: "c_added_dflt", SQLType: "varchar(20)", Kind: KindText, gen: genText(0, 20)}),
			withDefault: "c_added_dflt"},
		{table: "e2e_composite", sql: "ALTER TABLE e2e_composite ALTER COLUMN tenant TYPE bigint",
			apply: widen("tenant", "bigint", KindInt, genInt(1, 5))}, // a key column
		{table: "e2e_composite", sql: "ALTER TABLE e2e_composite ALTER COLUMN qty TYPE bigint",
			apply: widen("qty", "bigint", KindInt, genInt64)},
		{table: "e2e_composite", sql: "ALTER TABLE e2e_composite ALTER COLUMN price TYPE numeric(14,2)",
			apply: widen("price", "numeric(14,2)", KindDecimal, genDecimal(12, 2))},
		{table: "e2e_textkey", sql: "ALTER TABLE e2e_textkey ALTER COLUMN label TYPE varchar(255)",
			apply: widen("label", "varchar(255)", KindText, genText(0, 255))},
		{table: "e2e_textkey", sql: "ALTER TABLE e2e_textkey ADD COLUMN extra bigint DEFAULT 7",
			apply:       addColumn(Column{Name: "extra", SQLType: "bigint", Kind: KindInt, gen: genInt64}),
			withDefault: "extra"},
	}
}

// Alter applies one schema change not applied yet, chosen at random, and
// returns false when none is left. It must not run inside a transaction
// (MariaDB commits implicitly on DDL). It then inserts one row into the
// altered table: a source sends no event for DDL, so the lake learns the
// new schema from the table's next change, and the check after a round
// expects the new types.
func (w *Workload) Alter(ctx context.Context, db Execer) (bool, error) {
	if w.pending == nil {
		w.pending = alterations(w.d)
	}
	if len(w.pending) == 0 {
		return false, nil
	}
	i := w.r.IntN(len(w.pending))
	a := w.pending[i]
	w.pending = slices.Delete(w.pending, i, i+1)
	if err := w.exec(ctx, db, a.sql); err != nil {
		return false, err
	}
	ti := slices.IndexFunc(w.tables, func(t Table) bool { return t.Name == a.table })
	a.apply(&w.tables[ti])
	if a.withDefault != "" {
		st := w.stale[ti]
		for _, key := range w.keys[ti].live {
			if st[key] == nil {
				st[key] = map[string]bool{}
			}
			st[key][a.withDefault] = true
		}
	}
	w.stats.Alters++
	if err := w.insert(ctx, db, w.tables[ti], w.keys[ti]); err != nil {
		return false, err
	}
	return true, nil
}

// RunDDL applies ops random operations with up to alters schema changes
// (Alter) at random points between them.
func (w *Workload) RunDDL(ctx context.Context, db Execer, ops, alters int) error {
	at := map[int]int{} // op index → schema changes before it
	for range alters {
		at[w.r.IntN(ops+1)]++
	}
	for i := 0; i <= ops; i++ {
		for range at[i] {
			if _, err := w.Alter(ctx, db); err != nil {
				return err
			}
		}
		if i < ops {
			if err := w.Run(ctx, db, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// LakeNulls returns, for table, the rows (by canonical key "k1|k2", the
// key literals without quotes) whose columns added WITH a DEFAULT must read
// NULL in the lake: they existed when the column was added and no change
// event has carried them since (pgoutput and the binlog send a row only when
// it changes). Value: the column names.
func (w *Workload) LakeNulls(table string) map[string][]string {
	ti := slices.IndexFunc(w.tables, func(t Table) bool { return t.Name == table })
	out := map[string][]string{}
	if ti < 0 {
		return out
	}
	for key, cols := range w.stale[ti] {
		var parts []string
		for _, lit := range splitKey(key) {
			parts = append(parts, strings.Trim(lit, "'"))
		}
		out[strings.Join(parts, "|")] = slices.Sorted(maps.Keys(cols))
	}
	return out
}

// touched records that the row with key went out in a change event (an
// update, a key change or a delete): it no longer reads NULL in columns
// added with a default.
func (w *Workload) touched(ti int, key string) { delete(w.stale[ti], key) }

func cloneStale(s map[string]map[string]bool) map[string]map[string]bool {
	c := make(map[string]map[string]bool, len(s))
	for k, v := range s {
		c[k] = maps.Clone(v)
	}
	return c
}

// Dialect returns the workload's SQL dialect.
func (w *Workload) Dialect() Dialect { return w.d }
