package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/snapshot"
	"github.com/sluicehq/sluice/tests/testenv"
)

// BenchmarkSnapshot: rows/s of a whole-table snapshot into a local raw
// table with 1, 2 and 4 workers, next to a plain streaming SELECT * of the
// same table read to nothing by the same driver in the same run (the
// baseline).
//
//	go test ./snapshot/mysql -run XXX -bench Snapshot -benchtime 1x
func BenchmarkSnapshot(b *testing.B) {
	cfg := testenv.MySQL(b)
	ctx := context.Background()
	rows, table := int64(1_000_000), "t1m"
	if os.Getenv("SLUICE_BENCH_FULL") == "1" {
		rows, table = 10_000_000, "t10m"
	}
	const dbName = "sluice_bench"
	root := openDB(b, cfg, "")
	exec(b, root, "CREATE DATABASE IF NOT EXISTS "+dbName)
	db := openDB(b, cfg, dbName)
	var have int64
	_ = db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&have)
	if have != rows {
		exec(b, db, `DROP TABLE IF EXISTS `+table)
		exec(b, db, `CREATE TABLE `+table+` (id BIGINT PRIMARY KEY, account INT, amount DECIMAL(12,2), note VARCHAR(64), created TIMESTAMP NULL) DEFAULT CHARSET=utf8mb4`)
		exec(b, db, fmt.Sprintf(`INSERT INTO %s SELECT seq, seq %% 1000, seq * 1.25, CONCAT('note ', MD5(seq)), FROM_UNIXTIME(1704067200 + seq) FROM seq_1_to_%d`, table, rows))
		exec(b, db, `ANALYZE TABLE `+table)
	}

	b.Run("baseline-select-to-discard", func(b *testing.B) {
		for b.Loop() {
			conn, err := db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			t0, c0 := time.Now(), cpuTime()
			var n int64
			err = conn.Raw(func(dc any) error {
				r, err := dc.(driver.QueryerContext).QueryContext(ctx, `SELECT * FROM `+table, nil)
				if err != nil {
					return err
				}
				defer r.Close()
				dest := make([]driver.Value, len(r.Columns()))
				for {
					if err := r.Next(dest); err == io.EOF {
						return nil
					} else if err != nil {
						return err
					}
					n++
				}
			})
			conn.Close()
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
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			src := newSource(b, cfg, dbName+"."+table)
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
	// The source side alone: chunks read and decoded, rows dropped.
	b.Run("read-decode-only", func(b *testing.B) {
		src := newSource(b, cfg, dbName+"."+table)
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
