package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
	"github.com/sluicehq/sluice/tests/testenv"
)

func TestRangeSumOrderIndependentAndNoCancel(t *testing.T) {
	a, b := digestOf([]byte("row a")), digestOf([]byte("row b"))
	var x, y rangeSum
	x.add(a)
	x.add(b)
	y.add(b)
	y.add(a)
	if x != y {
		t.Errorf("sums depend on order: %v vs %v", x, y)
	}
	// XOR would cancel a duplicated row; a sum must not.
	var dup, one rangeSum
	dup.add(a)
	dup.add(a)
	dup.add(b)
	one.add(b)
	if dup.sum == one.sum {
		t.Error("a duplicated row cancelled out")
	}
	// 128-bit carry: low words that overflow move into the high word.
	var c rangeSum
	c.add(rowDigest{0, ^uint64(0)})
	c.add(rowDigest{0, 1})
	if got, want := c.sum, (rowDigest{1, 0}); got != want {
		t.Errorf("carry: got %v, want %v", got, want)
	}
}

func TestCanonTypesMatter(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	for _, tc := range []struct {
		name string
		a, b any
		same bool
	}{
		{"int widths", int32(7), int64(7), true},
		{"int vs string", int64(1), "1", false},
		{"float widths", float32(1.5), float64(1.5), true},
		{"null vs empty", nil, "", false},
		{"bytes vs string", []byte("x"), "x", false},
		{"time zones", ts, ts.In(time.FixedZone("x", 3600)), true},
		{"decimal", big.NewInt(150), big.NewInt(1500), false},
		{"arrays", []any{int32(1), "a"}, []any{int64(1), "a"}, true},
	} {
		got := string(appendCanon(nil, canonValue(tc.a))) == string(appendCanon(nil, canonValue(tc.b)))
		if got != tc.same {
			t.Errorf("%s: same = %v, want %v", tc.name, got, tc.same)
		}
	}
}

func TestConformWidening(t *testing.T) {
	dec := &lakelog.PrimitiveType{Name: "decimal", Precision: 12, Scale: 4}
	col := schemas.Column{Name: "d", Type: schemas.Bytes, Semantic: schemas.SemDecimal, Params: map[string]string{"scale": "2"}}
	got, err := conform(big.NewInt(12345), col, dec) // 123.45 at scale 2
	if err != nil {
		t.Fatal(err)
	}
	if got.(*big.Int).Cmp(big.NewInt(1234500)) != 0 {
		t.Errorf("decimal rescale: got %v, want 1234500", got)
	}
	got, err = conform(int32(3), schemas.Column{Name: "x", Type: schemas.Int32}, &lakelog.PrimitiveType{Name: "double"})
	if err != nil || got != float64(3) {
		t.Errorf("int to double: got %v %v", got, err)
	}
	if _, err := conform(big.NewInt(1), schemas.Column{Name: "d", Semantic: schemas.SemDecimal, Params: map[string]string{"scale": "6"}}, dec); err == nil {
		t.Error("a source scale above the table's is accepted")
	}
}

func TestDialectQuoting(t *testing.T) {
	pg, my := dialectOf(schemas.ConnectorPostgres), dialectOf(schemas.ConnectorMySQL)
	for _, tc := range []struct{ got, want string }{
		{pg.literal(`O'Brien\`), `'O''Brien\'`},
		{my.literal(`O'Brien\`), `'O''Brien\\'`},
		{pg.ident(`we"ird`), `"we""ird"`},
		{my.ident("we`ird"), "`we``ird`"},
		{pg.chunkPredicate([]string{"a", "b"}, snapshot.Chunk{Lo: snapshot.Bound{"1", "x'y"}, Hi: snapshot.Bound{"2", "z"}}),
			`(("a", "b") > ('1', 'x''y') AND ("a", "b") <= ('2', 'z'))`},
		{pg.chunkPredicate([]string{"id"}, snapshot.Chunk{}), "TRUE"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	idc, namec := schemas.Column{Name: "id", Type: schemas.Int64}, schemas.Column{Name: "name", Type: schemas.String}
	w, ok := pg.keyListPredicate([]schemas.Column{idc, namec}, [][]any{{int32(1), "a'b"}, {int64(2), "c"}})
	if want := `("id", "name") IN ((1, 'a''b'), (2, 'c'))`; !ok || w != want {
		t.Errorf("key list: got %s %v, want %s", w, ok, want)
	}
	if _, ok := pg.keyListPredicate([]schemas.Column{{Name: "b", Type: schemas.Bytes}}, [][]any{{[]byte{1}}}); ok {
		t.Error("bytes keys rendered as a plain literal")
	}
	if _, ok := pg.keyListPredicate([]schemas.Column{{Name: "d", Type: schemas.Int32, Semantic: schemas.SemDate}}, [][]any{{int32(19000)}}); ok {
		t.Error("a date's day number rendered as a plain literal")
	}
}

func TestDebeziumKeyRoundTrip(t *testing.T) {
	// Each Debezium key value, through ToDeltaValue (the merge's way into
	// the lake) and debeziumKey, must come back unchanged.
	for _, tc := range []struct {
		col schemas.Column
		v   any
	}{
		{schemas.Column{Name: "i", Type: schemas.Int32}, int32(-7)},
		{schemas.Column{Name: "l", Type: schemas.Int64}, int64(1) << 40},
		{schemas.Column{Name: "s", Type: schemas.String}, "ké'y"},
		{schemas.Column{Name: "u", Type: schemas.String, Semantic: schemas.SemUUID}, "0b8c7f9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"},
		{schemas.Column{Name: "d", Type: schemas.Int32, Semantic: schemas.SemDate}, int32(19000)},
		{schemas.Column{Name: "ts", Type: schemas.Int64, Semantic: schemas.SemMicroTimestamp}, int64(1714979289123456)},
		{schemas.Column{Name: "n", Type: schemas.Bytes, Semantic: schemas.SemDecimal, Params: map[string]string{"scale": "2"}}, schemas.TwosComplementBytes(big.NewInt(-12345))},
	} {
		ch := schemas.Change{Table: schemas.TableID{Database: "d", Table: "t"}, Op: schemas.OpRead, Columns: []schemas.Column{tc.col}, After: []any{tc.v},
			Source: schemas.Source{Connector: schemas.ConnectorPostgres}}
		val, err := schemas.EncodeValue(&ch, false)
		if err != nil {
			t.Fatal(err)
		}
		env, err := schemas.DecodeEnvelope(val)
		if err != nil {
			t.Fatal(err)
		}
		dv, err := schemas.ToDeltaValue(tc.col, env.After[0].Raw)
		if err != nil {
			t.Fatal(err)
		}
		back, err := debeziumKey(tc.col, canonValue(dv))
		if err != nil {
			t.Fatalf("%s: %v", tc.col.Name, err)
		}
		if fmt.Sprint(back) != fmt.Sprint(tc.v) {
			t.Errorf("%s: got %v (%T), want %v (%T)", tc.col.Name, back, back, tc.v, tc.v)
		}
	}
}

// tcEnv is a PostgreSQL table loaded into a local lake: snapshot into the
// raw table, then merged into its SCD1 table.
type tcEnv struct {
	t     *testing.T
	ctx   context.Context
	conn  *pgx.Conn
	cfg   *Config
	id    schemas.TableID
	table *lakelog.Table // the SCD1 table
	log   *slog.Logger
}

func tcLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTCEnv(t *testing.T, ddl string, fill string) *tcEnv {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	name := testenv.UniqueName("vt")
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{fmt.Sprintf(ddl, name), fmt.Sprintf(fill, name)} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	dir := t.TempDir()
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
warehouse: %s
sources:
  - {name: pg, type: postgres, dsn: '${TC_DSN}'}
`, filepath.Join(dir, "lake"))), func(k string) (string, bool) { return dsn, k == "TC_DSN" })
	if err != nil {
		t.Fatal(err)
	}
	e := &tcEnv{t: t, ctx: ctx, conn: conn, cfg: cfg, id: schemas.TableID{Database: db, Schema: "public", Table: name}, log: tcLogger()}
	// The initial load, as `sluice snapshot` does it, then the merge.
	rep, err := Snapshot(ctx, cfg, SnapshotOptions{SnapshotID: "initial", Tables: []string{e.id.String()}, NoCaptureCheck: true}, e.log)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if rep.Snapshot.Rows == 0 {
		t.Fatal("snapshot loaded no rows")
	}
	e.merge()
	lk, err := openLake(ctx, cfg, e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.table = lakelog.Open(blob.Sub(lk.warehouse, tableLocation(cfg, e.id.String())), lakelog.Options{})
	return e
}

func (e *tcEnv) merge() {
	e.t.Helper()
	if _, err := Merge(e.ctx, e.cfg, []string{e.id.String()}, e.log); err != nil {
		e.t.Fatalf("merge: %v", err)
	}
}

func (e *tcEnv) check(repair bool) (*TableCheck, error) {
	return CheckTable(e.ctx, e.cfg, TableCheckOptions{Table: e.id.String(), Repair: repair, RangeRows: 50}, e.log)
}

// lakeRows reads the SCD1 table's live rows by id (our Parquet reader;
// DuckDB checks the final state separately).
func (e *tcEnv) lakeRows() map[int64][]any {
	e.t.Helper()
	snap, err := e.table.Snapshot(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int64][]any{}
	for _, f := range snap.Files() {
		rows, err := dv.ReadFile(e.ctx, e.table.Store(), nil, f, snap.Schema())
		if err != nil {
			e.t.Fatal(err)
		}
		for {
			r, ok := rows.Next()
			if !ok {
				break
			}
			out[canonValue(r[0]).(int64)] = r
		}
		if err := rows.Err(); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// tamper rewrites the SCD1 table's files in one commit: edit may change,
// drop (return nil) or keep rows; extra rows are added.
func (e *tcEnv) tamper(edit func(row []any) []any, extra ...[]any) {
	e.t.Helper()
	snap, err := e.table.Snapshot(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := datafile.NewWriter(snap.Schema(), datafile.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	var rows [][]any
	for _, f := range snap.Files() {
		rs, err := dv.ReadFile(e.ctx, e.table.Store(), nil, f, snap.Schema())
		if err != nil {
			e.t.Fatal(err)
		}
		for {
			r, ok := rs.Next()
			if !ok {
				break
			}
			if r = edit(r); r != nil {
				rows = append(rows, r)
			}
		}
	}
	rows = append(rows, extra...)
	slices.SortFunc(rows, func(a, b []any) int { return compareValue(canonValue(a[0]), canonValue(b[0])) })
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			e.t.Fatal(err)
		}
	}
	add, err := w.Finish(e.ctx, e.table.Store(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	tx := snap.Begin("WRITE")
	for _, f := range snap.Files() {
		tx.RemoveFile(f, true)
	}
	tx.Add(add)
	if _, err := tx.Commit(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func diffKeys(res *TableCheck) map[string][]string {
	out := map[string][]string{}
	for _, d := range res.Differing {
		for _, k := range d.Keys {
			out[k.Kind] = append(out[k.Kind], strings.Join(k.Key, ","))
		}
	}
	return out
}

// TestValidateTableFindsAndRepairs loads a PostgreSQL table into the lake,
// changes one SCD1 row, drops one and adds one, and checks that validate
// names exactly those keys and ranges, that --repair reloads exactly them
// (every other row keeps its ordering key), and that validate is then
// clean; DuckDB reads the repaired table.
func TestValidateTableFindsAndRepairs(t *testing.T) {
	// Even ids 2..600: 300 rows, 6 ranges of 50 with exact boundaries
	// 100, 200, …, 500 (every 50th key).
	e := newTCEnv(t,
		`CREATE TABLE %s (id int PRIMARY KEY, name text NOT NULL, amount numeric(10,2), at timestamptz, ok boolean)`,
		`INSERT INTO %s SELECT 2*g, 'name ' || g, g * 1.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', g %% 3 = 0 FROM generate_series(1, 300) g`)

	res, err := e.check(false)
	if err != nil {
		t.Fatalf("validate after load: %v", err)
	}
	if !res.Equal || res.SourceRows != 300 || res.LakeRows != 300 || res.Ranges < 6 {
		t.Fatalf("after load: equal=%v source=%d lake=%d ranges=%d, want equal 300/300 in >= 6", res.Equal, res.SourceRows, res.LakeRows, res.Ranges)
	}
	if !res.LakeBehind || res.Source.OrderingKey <= res.Lake.OrderingKey {
		t.Errorf("lake progress %q vs source %q: the lake merged only the initial snapshot, it must show as behind", res.Lake.OrderingKey, res.Source.OrderingKey)
	}

	before := e.lakeRows()
	schema := func() *lakelog.StructType { s, _ := e.table.Snapshot(e.ctx); return s.Schema() }()
	idx := map[string]int{}
	for i, f := range schema.Fields {
		idx[f.Name] = i
	}
	extra := slices.Clone(before[300])
	extra[idx["id"]] = int32(301)
	extra[idx["name"]] = "not at the source"
	e.tamper(func(r []any) []any {
		switch canonValue(r[0]).(int64) {
		case 34:
			r = slices.Clone(r)
			r[idx["name"]] = "tampered"
		case 450:
			r = slices.Clone(r)
			r[idx["amount"]] = big.NewInt(99999) // 999.99 instead of 281.25
		case 300:
			return nil
		}
		return r
	}, extra)

	res, err = e.check(false)
	if !errors.Is(err, ErrTableDiffers) {
		t.Fatalf("validate after tampering: err %v, want ErrTableDiffers", err)
	}
	if code := ExitCode(err, ClassifyTableCheck, Classify); code != ExitDataQuality {
		t.Errorf("exit code %d, want %d", code, ExitDataQuality)
	}
	type rng struct {
		idx    int
		lo, hi string
	}
	var got []rng
	for _, d := range res.Differing {
		got = append(got, rng{d.Index, strings.Join(d.Lo, ","), strings.Join(d.Hi, ",")})
	}
	want := []rng{{0, "", "100"}, {2, "200", "300"}, {3, "300", "400"}, {4, "400", "500"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("differing ranges %v, want %v", got, want)
	}
	keys := diffKeys(res)
	wantKeys := map[string][]string{DiffChanged: {"34", "450"}, DiffMissing: {"300"}, DiffExtra: {"301"}}
	if fmt.Sprint(keys) != fmt.Sprint(wantKeys) {
		t.Errorf("differing keys %v, want %v", keys, wantKeys)
	}

	res, err = e.check(true)
	if err != nil {
		t.Fatalf("repair: %v", err)
	}
	if r := res.Repair; r == nil || r.ReloadedRows != 3 || r.DeletedKeys != 1 {
		t.Fatalf("repair: %+v, want 3 reloaded and 1 deleted", r)
	}

	after := e.lakeRows()
	ord := idx[merge.ColOrderingKey]
	if _, ok := after[301]; ok {
		t.Error("key 301 (not at the source) is still in the lake")
	}
	if len(after) != 300 {
		t.Errorf("%d lake rows after repair, want 300", len(after))
	}
	for id, r := range before {
		a, ok := after[id]
		if !ok {
			t.Errorf("key %d lost by the repair", id)
			continue
		}
		repaired := id == 34 || id == 450 || id == 300
		if changed := a[ord] != r[ord]; changed != repaired {
			t.Errorf("key %d: ordering key %v -> %v; repaired key: %v", id, r[ord], a[ord], repaired)
		}
	}

	res, err = e.check(false)
	if err != nil || !res.Equal {
		t.Fatalf("validate after repair: equal=%v err=%v differing=%+v", res != nil && res.Equal, err, res.Differing)
	}

	// DuckDB reads the repaired table: its live files per the log.
	root := filepath.Join(strings.TrimPrefix(e.cfg.Warehouse, "file://"), tableLocation(e.cfg, e.id.String()))
	live := testenv.DuckDB(t, fmt.Sprintf(`
with log as (select * from read_ndjson('%[1]s/_delta_log/*.json', columns={add:'STRUCT(path VARCHAR)', remove:'STRUCT(path VARCHAR)'})),
adds as (select add.path p from log where add is not null),
removes as (select remove.path p from log where remove is not null)
select p from adds where p not in (select p from removes) order by p`, root))
	var files []string
	for _, r := range live {
		files = append(files, fmt.Sprintf("'%s/%s'", root, r["p"]))
	}
	rows := testenv.DuckDB(t, fmt.Sprintf(`select count(*) n, count(distinct id) ids, sum(id) sid,
  max(case when id = 34 then name end) n34, max(case when id = 450 then cast(amount as varchar) end) a450,
  max(case when id = 300 then name end) n300, count(case when id = 301 then 1 end) c301
from read_parquet([%s])`, strings.Join(files, ",")))
	gotRow := fmt.Sprintf("%v %v %v %v %v %v %v", rows[0]["n"], rows[0]["ids"], rows[0]["sid"], rows[0]["n34"], rows[0]["a450"], rows[0]["n300"], rows[0]["c301"])
	// sum of 2g for g in 1..300 = 300*301 = 90300
	if wantRow := "300 300 90300 name 17 281.25 name 150 0"; gotRow != wantRow {
		t.Errorf("duckdb: %s, want %s", gotRow, wantRow)
	}
}
