package postgres

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sluicehq/sluice/snapshot"
)

// BenchmarkSnapshot: rows/s of a whole-table snapshot into a local raw
// table with 1, 2 and 4 workers, next to the server's own COPY TO STDOUT
// of the same table into io.Discard in the same run (the baseline).
//
//	go test ./snapshot/postgres -run XXX -bench Snapshot -benchtime 1x
func BenchmarkSnapshot(b *testing.B) {
	pool, dsn := testPool(b)
	ctx := context.Background()
	const rows = 1_000_000
	name := "sluice_snap_bench_1m"
	var have int64
	if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)), -2)`, name).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have != rows {
		exec(b, pool, `DROP TABLE IF EXISTS `+name)
		exec(b, pool, fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, account int, amount numeric(12,2), note text, created timestamptz)`, name))
		exec(b, pool, fmt.Sprintf(`INSERT INTO %s SELECT g, g %% 1000, g * 1.25, 'note ' || md5(g::text), '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, %d) g`, name, rows))
		exec(b, pool, `VACUUM ANALYZE `+name)
	}

	b.Run("baseline-copy-to-discard", func(b *testing.B) {
		for b.Loop() {
			conn, err := pool.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			tag, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard, `COPY (SELECT * FROM `+name+` ORDER BY id) TO STDOUT`)
			conn.Release()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(tag.RowsAffected())/time.Since(t0).Seconds(), "rows/s")
		}
	})
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			src, err := New(ctx, Config{DSN: dsn, Tables: []string{"public." + name}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			i := 0
			for b.Loop() {
				raw := newRaw(b)
				i++
				t0 := time.Now()
				rep, err := snapshot.Run(ctx, src, raw, snapshot.Config{
					SnapshotID: fmt.Sprintf("bench%d", i), TopicPrefix: "bench", Parallel: workers, ChunkRows: 50_000,
				}, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Rows != rows {
					b.Fatalf("rows %d, want %d", rep.Rows, rows)
				}
				b.ReportMetric(float64(rep.Rows)/time.Since(t0).Seconds(), "rows/s")
				b.ReportMetric(float64(rep.Bytes)/float64(rep.Rows), "bytes/row")
			}
		})
	}
}
