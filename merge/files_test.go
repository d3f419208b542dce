package merge

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

func deltaFixture(t *testing.T, name string) string {
	t.Helper()
	for _, c := range []string{os.Getenv("SLUICE_DELTA_FIXTURES"), "../../shared/testdata/delta", "/work/shared/testdata/delta"} {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "SOURCES.md")); err == nil {
			return filepath.Join(c, name)
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("delta fixtures not found; set SLUICE_DELTA_FIXTURES")
	}
	t.Skip("delta fixtures not found; set SLUICE_DELTA_FIXTURES")
	return ""
}

// TestReadRowsAppliesSparkDVs reads Spark tables with deletion vectors
// through readRows: the rows must be the rows Spark's DELETEs left (the
// fixtures' commitInfo predicates), i.e. every physical row minus those
// matching a predicate.
func TestReadRowsAppliesSparkDVs(t *testing.T) {
	cases := []struct {
		name, column string
		deleted      func(int64) bool
	}{
		{"spark-golden/log-replay-dv-key-cases", "id", func(v int64) bool { return v == 0 || v == 7 || v == 14 }},
		{"delta-rs/table-with-dv-small", "value", func(v int64) bool { return v == 0 || v == 9 }},
		{"spark-golden/dv-partitioned-with-checkpoint", "col1", func(v int64) bool { return v%2 == 0 && v >= 0 && v <= 28 }},
	}
	ctx := context.Background()
	toInt := func(v any) int64 {
		switch x := v.(type) {
		case int64:
			return x
		case int32:
			return int64(x)
		}
		t.Fatalf("value %T", v)
		return 0
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store, err := fileblob.New(deltaFixture(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			schema := &lakelog.StructType{}
			for _, f := range snap.Schema().Fields {
				if f.Name == tc.column {
					schema.Fields = append(schema.Fields, f)
				}
			}
			var got, want []int64
			if err := readRows(ctx, store, snap.Files(), schema, func(row []any) { got = append(got, toInt(row[0])) }); err != nil {
				t.Fatal(err)
			}
			for _, f := range snap.Files() {
				rows, err := datafile.ReadFile(ctx, store, f, schema)
				if err != nil {
					t.Fatal(err)
				}
				for row, ok := rows.Next(); ok; row, ok = rows.Next() {
					if v := toInt(row[0]); !tc.deleted(v) {
						want = append(want, v)
					}
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("read %v\nwant %v", got, want)
			}
		})
	}
}
