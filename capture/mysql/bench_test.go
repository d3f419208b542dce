package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/capture"
)

// BenchmarkStream measures changes/s decoded from the binlog (rows events →
// schemas.Change, typed values) while a writer inserts rows of a mixed-type
// table in 500-row statements.
func BenchmarkStream(b *testing.B) {
	b.Run("concurrent", func(b *testing.B) { benchStream(b, false) })
	// backlog: the rows are written first, so only binlog reading and
	// decoding are timed.
	b.Run("backlog", func(b *testing.B) { benchStream(b, true) })
}

func benchStream(b *testing.B, backlog bool) {
	conn, db, cfg := testDB(b)
	mustExec(b, conn, `CREATE TABLE bench (id INT PRIMARY KEY, n BIGINT, d DECIMAL(12,2),
		s VARCHAR(40), ts DATETIME(6), f DOUBLE, u INT UNSIGNED)`)
	s := newSource(b, cfg, db, nil)
	from := startPosition(b, s)
	rows := max(b.N, 20000)
	const perStmt = 500
	werr := make(chan error, 1)
	write := func() {
		var sb strings.Builder
		for i := 0; i < rows; i += perStmt {
			sb.Reset()
			sb.WriteString("INSERT INTO bench VALUES ")
			for j := i; j < min(i+perStmt, rows); j++ {
				if j > i {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "(%d,%d,%d.25,'row number %d','2024-01-02 03:04:05.%06d',%d.5,%d)", j, j*7, j, j, j%1000000, j, j)
			}
			if _, err := conn.Execute(sb.String()); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}
	if backlog {
		write()
	} else {
		go write()
	}
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := make(chan capture.Batch, 64)
	serr := make(chan error, 1)
	go func() { serr <- s.Stream(ctx, from, out) }()
	got := 0
	for got < rows {
		select {
		case bt := <-out:
			got += len(bt.Changes)
		case err := <-serr:
			b.Fatalf("stream: %v", err)
		case <-ctx.Done():
			b.Fatalf("timeout at %d of %d", got, rows)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "changes/s")
}
