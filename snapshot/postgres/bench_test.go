package postgres

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
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
	rows, name := int64(1_000_000), "sluice_snap_bench_1m"
	if os.Getenv("SLUICE_BENCH_FULL") == "1" {
		rows, name = 10_000_000, "sluice_snap_bench_10m"
	}
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
			t0, c0 := time.Now(), cpuTime()
			tag, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard, `COPY (SELECT * FROM `+name+` ORDER BY id) TO STDOUT`)
			conn.Release()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(tag.RowsAffected())/time.Since(t0).Seconds(), "rows/s")
			b.ReportMetric(float64(tag.RowsAffected())/(cpuTime()-c0).Seconds(), "rows/cpu-s")
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
				t0, c0 := time.Now(), cpuTime()
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
				b.ReportMetric(float64(rep.Rows)/(cpuTime()-c0).Seconds(), "rows/cpu-s")
				b.ReportMetric(float64(rep.Bytes)/float64(rep.Rows), "bytes/row")
			}
		})
	}
	// The source side alone: the whole table read and decoded in one
	// chunk, rows dropped.
	b.Run("read-decode-only", func(b *testing.B) {
		src, err := New(ctx, Config{DSN: dsn, Tables: []string{"public." + name}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		tables, err := src.Tables(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			v, err := src.OpenView(ctx)
			if err != nil {
				b.Fatal(err)
			}
			t0, c0 := time.Now(), cpuTime()
			var n int64
			err = v.ReadChunk(ctx, tables[0], snapshot.Chunk{}, func([]any) error { n++; return nil })
			v.Close()
			if err != nil {
				b.Fatal(err)
			}
			if n != rows {
				b.Fatalf("rows %d, want %d", n, rows)
			}
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "rows/s")
			b.ReportMetric(float64(n)/(cpuTime()-c0).Seconds(), "rows/cpu-s")
		}
	})
}

// cpuTime is the CPU time (user + system) this process has used: rows per
// CPU second is the per-core figure, far less sensitive than rows/s to the
// other load on a shared machine. It excludes the database server.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
