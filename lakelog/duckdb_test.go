package lakelog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestDuckDBReadsOurLog writes a table with lakelog — several commits,
// removes, txns, a schema change and a checkpoint — and has DuckDB, which
// we did not write, replay the log (the checkpoint with read_parquet, the
// later commits with read_json) and read the live data files. DuckDB's live
// file set and row totals must equal ours.
func TestDuckDBReadsOurLog(t *testing.T) {
	testenv.Require(t, "DuckDB", "SLUICE_TEST_DUCKDB")
	ctx := context.Background()
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	table := lakelog.Open(store, lakelog.Options{CheckpointInterval: 5})
	schemaV1 := &lakelog.StructType{Fields: []*lakelog.StructField{
		{Name: "id", Type: lakelog.TypeLong, Nullable: false},
		{Name: "name", Type: lakelog.TypeString, Nullable: true},
	}}
	proto := lakelog.Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"domainMetadata", "clustering"}}
	clustering := lakelog.DomainMetadata{Domain: "delta.clustering", Configuration: `{"clusteringColumns":[["id"]],"domainName":"delta.clustering"}`}
	if _, err := table.Create(ctx, lakelog.Metadata{SchemaString: schemaV1.String()}, proto, clustering); err != nil {
		t.Fatal(err)
	}

	// writeFile writes ids [from, to) as one data file with the schema.
	writeFile := func(schema *lakelog.StructType, from, to int64) *lakelog.Add {
		t.Helper()
		w, err := datafile.NewWriter(schema, datafile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for id := from; id < to; id++ {
			row := []any{id, fmt.Sprintf("n%d", id)}
			if len(schema.Fields) == 3 {
				row = append(row, "x")
			}
			if err := w.Write(row); err != nil {
				t.Fatal(err)
			}
		}
		add, err := w.Finish(ctx, store, "")
		if err != nil {
			t.Fatal(err)
		}
		return add
	}
	commit := func(build func(snap *lakelog.Snapshot, tx *lakelog.Transaction)) {
		t.Helper()
		snap, err := table.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx := snap.Begin("WRITE")
		build(snap, tx)
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	byMin := func(snap *lakelog.Snapshot, id int64) *lakelog.Add {
		t.Helper()
		for _, f := range snap.Files() {
			st, err := f.ParsedStats()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(st.MinValues["id"]) == fmt.Sprint(id) {
				return f
			}
		}
		t.Fatalf("no file starting at id %d", id)
		return nil
	}

	schemaV2 := &lakelog.StructType{Fields: append(slices.Clone(schemaV1.Fields), &lakelog.StructField{Name: "extra", Type: lakelog.TypeString, Nullable: true})}
	// v1: ids 0..9 and 10..19.
	commit(func(_ *lakelog.Snapshot, tx *lakelog.Transaction) {
		tx.Add(writeFile(schemaV1, 0, 10), writeFile(schemaV1, 10, 20))
		tx.SetAppVersion("ingest-a", 1)
	})
	// v2: ids 20..29.
	commit(func(_ *lakelog.Snapshot, tx *lakelog.Transaction) {
		tx.Add(writeFile(schemaV1, 20, 30))
		tx.SetAppVersion("ingest-a", 2)
		tx.SetAppVersion("ingest-b", 7)
	})
	// v3: delete ids 0..9 by rewriting their file to keep 5..9.
	commit(func(snap *lakelog.Snapshot, tx *lakelog.Transaction) {
		old := byMin(snap, 0)
		tx.ReadFiles(old.Path)
		tx.RemoveFile(old, true)
		tx.Add(writeFile(schemaV1, 5, 10))
	})
	// v4: schema change, adding a nullable column.
	commit(func(snap *lakelog.Snapshot, tx *lakelog.Transaction) {
		m := snap.Metadata()
		m.SchemaString = schemaV2.String()
		tx.SetMetadata(m)
	})
	// v5 (checkpoint): ids 30..39 with the new column.
	commit(func(_ *lakelog.Snapshot, tx *lakelog.Transaction) {
		tx.Add(writeFile(schemaV2, 30, 40))
		tx.SetAppVersion("ingest-a", 3)
	})
	// v6: compaction of 10..19 and 20..29 into one file (dataChange=false).
	commit(func(snap *lakelog.Snapshot, tx *lakelog.Transaction) {
		a, b := byMin(snap, 10), byMin(snap, 20)
		tx.ReadFiles(a.Path, b.Path)
		tx.RemoveFile(a, false)
		tx.RemoveFile(b, false)
		c := writeFile(schemaV2, 10, 30)
		c.DataChange = false
		tx.Add(c)
	})
	// v7: ids 40..44.
	commit(func(_ *lakelog.Snapshot, tx *lakelog.Transaction) {
		tx.Add(writeFile(schemaV2, 40, 45))
		tx.SetAppVersion("ingest-b", 8)
	})

	log := filepath.Join(dir, "_delta_log")
	checkpoint := filepath.Join(log, "00000000000000000005.checkpoint.parquet")
	replay := fmt.Sprintf(`
CREATE TABLE actions AS
  SELECT 5 AS v, add.path AS add_path, remove.path AS remove_path, txn.appId AS app, txn.version AS app_version
  FROM read_parquet('%s')
  UNION ALL
  SELECT CAST(regexp_extract(filename, '(\d{20})\.json$', 1) AS BIGINT) AS v,
         add.path, remove.path, txn.appId, txn.version
  FROM read_json('%s/*.json', format='newline_delimited', filename=true,
       columns={add: 'STRUCT(path VARCHAR)', remove: 'STRUCT(path VARCHAR)', txn: 'STRUCT(appId VARCHAR, version BIGINT)'})
  WHERE CAST(regexp_extract(filename, '(\d{20})\.json$', 1) AS BIGINT) > 5;
`, checkpoint, log)
	liveSQL := replay + `
SELECT path FROM (
  SELECT coalesce(add_path, remove_path) AS path, add_path IS NOT NULL AS is_add,
         row_number() OVER (PARTITION BY coalesce(add_path, remove_path) ORDER BY v DESC) AS rn
  FROM actions WHERE coalesce(add_path, remove_path) IS NOT NULL)
WHERE rn = 1 AND is_add ORDER BY path;`
	var duckLive []string
	for _, row := range testenv.DuckDB(t, liveSQL) {
		duckLive = append(duckLive, row["path"].(string))
	}
	snap, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, f := range snap.Files() {
		ours = append(ours, f.Path)
	}
	if len(ours) != 4 || !slices.Equal(duckLive, ours) {
		t.Fatalf("live files:\nduckdb %v\nours   %v (want 4)", duckLive, ours)
	}

	appsSQL := replay + `
SELECT app, max_by(app_version, v) AS version FROM actions WHERE app IS NOT NULL GROUP BY app ORDER BY app;`
	var duckApps []string
	for _, row := range testenv.DuckDB(t, appsSQL) {
		duckApps = append(duckApps, fmt.Sprintf("%s=%v", row["app"], row["version"]))
	}
	if got, want := strings.Join(duckApps, " "), "ingest-a=3 ingest-b=8"; got != want {
		t.Fatalf("DuckDB app versions %s, want %s", got, want)
	}
	if a, _ := snap.AppVersion("ingest-a"); a != 3 {
		t.Fatalf("our ingest-a = %d, want 3", a)
	}

	// The live files hold ids 5..44, once each; only the new files have extra.
	var files []string
	for _, p := range duckLive {
		files = append(files, "'"+filepath.Join(dir, p)+"'")
	}
	rows := testenv.DuckDB(t, fmt.Sprintf(`SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS lo, max(id) AS hi, count(extra) AS extras
FROM read_parquet([%s], union_by_name=true)`, strings.Join(files, ",")))
	if got, want := fmt.Sprintf("%v %v %v %v %v", rows[0]["n"], rows[0]["ids"], rows[0]["lo"], rows[0]["hi"], rows[0]["extras"]), "40 40 5 44 35"; got != want {
		t.Fatalf("DuckDB over live files: n ids lo hi extras = %s, want %s", got, want)
	}

	// The checkpoint itself, as DuckDB reads it: the spec's struct columns.
	cp := testenv.DuckDB(t, fmt.Sprintf(`SELECT
  count(add) AS adds, count(remove) AS removes, count(txn) AS txns, count(metaData) AS metas,
  count(protocol) AS protos, count(domainMetadata) AS domains,
  any_value(protocol.minWriterVersion) AS writer, any_value(len(metaData.partitionColumns)) AS partcols,
  any_value(metaData.format.provider) AS provider
FROM read_parquet('%s')`, checkpoint))
	if got, want := fmt.Sprintf("%v %v %v %v %v %v %v %v %v", cp[0]["adds"], cp[0]["removes"], cp[0]["txns"], cp[0]["metas"], cp[0]["protos"], cp[0]["domains"], cp[0]["writer"], cp[0]["partcols"], cp[0]["provider"]), "4 1 2 1 1 1 7 0 parquet"; got != want {
		t.Fatalf("checkpoint rows (adds removes txns metaData protocol domains writer partcols provider) = %s, want %s", got, want)
	}
}
