package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
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
	const rows = 1_000_000
	const dbName = "sluice_bench"
	root := openDB(b, cfg, "")
	exec(b, root, "CREATE DATABASE IF NOT EXISTS "+dbName)
	db := openDB(b, cfg, dbName)
	var have int64
	_ = db.QueryRow(`SELECT COUNT(*) FROM t1m`).Scan(&have)
	if have != rows {
		exec(b, db, `DROP TABLE IF EXISTS t1m`)
		exec(b, db, `CREATE TABLE t1m (id BIGINT PRIMARY KEY, account INT, amount DECIMAL(12,2), note VARCHAR(64), created TIMESTAMP NULL) DEFAULT CHARSET=utf8mb4`)
		exec(b, db, fmt.Sprintf(`INSERT INTO t1m SELECT seq, seq %% 1000, seq * 1.25, CONCAT('note ', MD5(seq)), FROM_UNIXTIME(1704067200 + seq) FROM seq_1_to_%d`, rows))
		exec(b, db, `ANALYZE TABLE t1m`)
	}

	b.Run("baseline-select-to-discard", func(b *testing.B) {
		for b.Loop() {
			conn, err := db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			n := 0
			err = conn.Raw(func(dc any) error {
				r, err := dc.(driver.QueryerContext).QueryContext(ctx, `SELECT * FROM t1m`, nil)
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
		}
	})
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			src := newSource(b, cfg, dbName+".t1m")
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
	// The source side alone: chunks read and decoded, rows dropped.
	b.Run("read-decode-only", func(b *testing.B) {
		src := newSource(b, cfg, dbName+".t1m")
		tables, err := src.Tables(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			v, err := src.OpenView(ctx)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			n := 0
			err = v.ReadChunk(ctx, tables[0], snapshot.Chunk{}, func([]any) error { n++; return nil })
			v.Close()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "rows/s")
		}
	})
}
