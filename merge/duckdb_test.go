package merge

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestDuckDBReadsSCD1 merges the crash script into a directory and has
// DuckDB replay the SCD1 table's log (read_ndjson: adds minus removes) and
// read the live files; its rows must equal the expected table, written
// out by hand here.
func TestDuckDBReadsSCD1(t *testing.T) {
	testenv.Require(t, "DuckDB", "SLUICE_TEST_DUCKDB")
	ctx := context.Background()
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	env := playCrash(t, store, func(env *scd1Env) error {
		_, err := Run(ctx, env.raw.table, store, env.cfg, nil)
		return err
	})
	root := filepath.Join(dir, DefaultLocation(env.cfg.TablesRoot, tableIDOf("db.public.a")))
	live := testenv.DuckDB(t, fmt.Sprintf(`
with log as (select * from read_ndjson('%[1]s/_delta_log/*.json', filename=true, columns={add:'STRUCT(path VARCHAR)', remove:'STRUCT(path VARCHAR)'})),
adds as (select add.path p from log where add is not null),
removes as (select remove.path p from log where remove is not null)
select p from adds where p not in (select p from removes) order by p`, root))
	var files []string
	for _, r := range live {
		files = append(files, fmt.Sprintf("'%s/%s'", root, r["p"]))
	}
	if len(files) == 0 {
		t.Fatal("duckdb: no live files")
	}
	rows := testenv.DuckDB(t, fmt.Sprintf(`select id, coalesce(v,'NULL') v, n, coalesce(w,'NULL') w, _sluice_op op
from read_parquet([%s], union_by_name=true) order by id`, strings.Join(files, ",")))
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%v %v %v %v %v", r["id"], r["v"], r["n"], r["w"], r["op"]))
	}
	want := []string{
		"1 a 11 new u", // TOAST kept v=a; late events @15/@16 ignored
		"2 back 2 x c", // deleted @21, back @41; zombie @16 ignored
		"4 d 4 NULL c", // untouched after the new column: NULL
		"5 e 5 NULL u", // key change 3 -> 5 at @31
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("duckdb rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
