package merge

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/schemas"
)

// BenchmarkMergeBacklog merges a large backlog of raw data (snapshot reads
// as ingest writes a Debezium snapshot read through Kafka: no sluice
// snapshot txn, so passes apply; a sluice snapshot's rows are one pass,
// passes.go) once with the default
// Config.MaxPassBytes, with 16 and 512 MiB and without a limit, in the same
// process, and reports for each:
//
//	peak-rss-MB    the process's peak RSS (VmHWM, reset before the
//	               merge); the raw table and the SCD1 table live in
//	               temporary directories (fileblob), not in memory
//	passes         Report.Passes
//	raw-file-MB    the raw data files the merge read
//	value-MB       the rows' text column (the values are JSON with it)
//
// Rows: SLUICE_BENCH_BACKLOG_ROWS (default 300000) snapshot reads (op r)
// of SLUICE_BENCH_VALUE_BYTES (default 3000) bytes of text each, in raw
// commits of SLUICE_BENCH_BATCH rows (default 10000), as ingest writes a
// snapshot. Run with -benchtime=1x: the setup takes longer than a merge.
func BenchmarkMergeBacklog(b *testing.B) {
	ctx := context.Background()
	rows := benchEnvInt("SLUICE_BENCH_BACKLOG_ROWS", 300000)
	valueBytes := benchEnvInt("SLUICE_BENCH_VALUE_BYTES", 3000)
	batch := benchEnvInt("SLUICE_BENCH_BATCH", 10000)
	rawStore, err := fileblob.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	env := newSCD1Env(b)
	env.raw = newTestRaw(b, rawStore)
	id := schemas.TableID{Database: "bench", Schema: "public", Table: "t"}
	cols := []schemas.Column{{Name: "id", Type: schemas.Int64}, {Name: "doc", Type: schemas.String, Optional: true}}
	// text from a vocabulary compresses like prose, not like random bytes
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 2000)
	for i := range vocab {
		var w strings.Builder
		for range 3 + rng.IntN(8) {
			w.WriteByte(byte('a' + rng.IntN(26)))
		}
		vocab[i] = w.String()
	}
	text := func() string {
		var s strings.Builder
		for s.Len() < valueBytes {
			s.WriteString(vocab[rng.IntN(len(vocab))])
			s.WriteByte(' ')
		}
		return s.String()[:valueBytes]
	}
	var valueMB float64
	for lo := 0; lo < rows; lo += batch {
		var cs []*schemas.Change
		for k := lo; k < min(lo+batch, rows); k++ {
			lsn := uint64(k + 1)
			cs = append(cs, &schemas.Change{Table: id, Op: schemas.OpRead, Columns: cols, Key: []string{"id"},
				After:  []any{int64(k), text()},
				Source: schemas.Source{Connector: schemas.ConnectorPostgres, Name: "srv", DB: "bench", Schema: "public", Table: "t", TsMs: 1700000000000, CommitLSN: lsn, LSN: lsn}})
			valueMB += float64(valueBytes) / (1 << 20)
		}
		if _, err := env.raw.append(ctx, cs, true); err != nil {
			b.Fatal(err)
		}
	}
	for _, limit := range []struct {
		name  string
		bytes int64
	}{{"default", 0}, {"16MiB", 16 << 20}, {"512MiB", 512 << 20}, {"unlimited", 1 << 62}} {
		b.Run("max_pass="+limit.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				warehouse, err := fileblob.New(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				cfg := env.cfg
				cfg.MaxPassBytes = limit.bytes
				resetPeakRSS()
				b.StartTimer()
				rep, err := Run(ctx, env.raw.table, warehouse, cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if got := rep.Tables[0].RowsInserted; got != int64(rows) {
					b.Fatalf("%d rows inserted, want %d", got, rows)
				}
				var rawBytes int64
				for c, err := range env.raw.table.Commits(ctx, 0, rep.RawVersion) {
					if err != nil {
						b.Fatal(err)
					}
					for _, a := range c.Actions {
						if a.Add != nil {
							rawBytes += a.Add.Size
						}
					}
				}
				b.ReportMetric(peakRSSMB(), "peak-rss-MB")
				b.ReportMetric(float64(rep.Passes), "passes")
				b.ReportMetric(float64(rawBytes)/(1<<20), "raw-file-MB")
				b.ReportMetric(valueMB, "value-MB")
				b.Logf("%s: %d passes, peak RSS %.0f MB, raw files %s MB", limit.name, rep.Passes, peakRSSMB(), strconv.FormatFloat(float64(rawBytes)/(1<<20), 'f', 0, 64))
			}
		})
	}
}
