package merge

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// BenchmarkMerge merges batches of changes into a table of
// SLUICE_BENCH_ROWS rows (default 200000; the target is 10M) kept
// in files of 50000 rows, and reports changed_rows/s and
// rows_rewritten/changed_row. Setup (building the table) is not timed.
func BenchmarkMerge(b *testing.B) {
	base := 200000
	if s := os.Getenv("SLUICE_BENCH_ROWS"); s != "" {
		base, _ = strconv.Atoi(s)
	}
	const batch = 10000
	for _, kind := range []string{"inserts", "clustered-updates", "random-updates"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			env := newSCD1Env(b)
			env.cfg.TargetFileRows = 50000
			id := schemas.TableID{Database: "bench", Schema: "public", Table: "t"}
			cols := []schemas.Column{{Name: "id", Type: schemas.Int64}, {Name: "v", Type: schemas.String, Optional: true}, {Name: "n", Type: schemas.Int64, Optional: true}}
			lsn := uint64(1)
			change := func(op schemas.Op, key int64) *schemas.Change {
				lsn++
				return &schemas.Change{Table: id, Op: op, Columns: cols, Key: []string{"id"},
					After:  []any{key, "value-" + strconv.FormatInt(key, 10), int64(lsn)},
					Source: schemas.Source{Connector: schemas.ConnectorPostgres, DB: "bench", Schema: "public", Table: "t", TsMs: 1700000000000, CommitLSN: lsn, LSN: lsn}}
			}
			load := func(keys []int64, op schemas.Op) {
				cs := make([]*schemas.Change, len(keys))
				for i, k := range keys {
					cs[i] = change(op, k)
				}
				if _, err := env.raw.append(ctx, cs, true); err != nil {
					b.Fatal(err)
				}
			}
			for start := 0; start < base; start += 100000 {
				keys := make([]int64, 0, 100000)
				for k := start; k < min(base, start+100000); k++ {
					keys = append(keys, int64(k))
				}
				load(keys, schemas.OpCreate)
			}
			if _, err := Run(ctx, env.raw.table, env.warehouse, env.cfg, nil); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			next := int64(base)
			var changed, rewritten int64
			var elapsed time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				keys := make([]int64, batch)
				for j := range keys {
					switch kind {
					case "inserts":
						keys[j] = next
						next++
					case "clustered-updates":
						keys[j] = int64(j) + int64(i*batch)%int64(base-batch)
					default:
						keys[j] = rng.Int64N(int64(base))
					}
				}
				op := schemas.OpUpdate
				if kind == "inserts" {
					op = schemas.OpCreate
				}
				load(keys, op)
				b.StartTimer()
				t0 := time.Now()
				rep, err := Run(ctx, env.raw.table, env.warehouse, env.cfg, nil)
				elapsed += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				for _, tr := range rep.Tables {
					changed += int64(tr.ChangesApplied)
					rewritten += tr.RowsRewritten
				}
			}
			b.ReportMetric(float64(changed)/elapsed.Seconds(), "changed_rows/s")
			b.ReportMetric(float64(rewritten)/float64(max(changed, 1)), "rows_rewritten/changed_row")
		})
	}
}
