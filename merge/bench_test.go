package merge

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/schemas"
)

// benchEnvInt reads a positive integer from the environment.
func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMerge merges batches of changes into a table and reports:
//
//	changed_rows/cpu_s           changes applied per CPU-second of the merge
//	changed_rows/s               the same per wall-clock second
//	rows_rewritten/changed_row   existing rows read and written again
//	full_rewrite_ms              baseline measured in the same run: reading
//	                             every row of the table and writing it again
//	%_of_full_rewrite            a merge's wall time relative to that baseline
//	%_of_full_rewrite_cpu        the same in CPU time
//	rows_dv/changed_row          rows marked deleted by deletion vectors
//	                             (the -dv kinds: the same updates on a
//	                             table with TableConfig.DeletionVectors)
//	setup-heap-MB                live heap before the merges: the table
//	                             and raw log, held in memory (memblob)
//	merge-peak-rss-MB            the process's peak RSS (VmHWM, reset
//	                             after the setup) over the merges; it
//	                             includes setup-heap-MB
//	full-rewrite-peak-rss-MB     the same over the baseline
//
// Kinds: inserts (keys above the table's), clustered-updates (each batch
// one run of consecutive keys, the next batch the run after it),
// random-updates (keys uniform over the table).
//
// Table size: SLUICE_BENCH_ROWS rows (default 200000); SLUICE_BENCH_FULL=1
// sets 10M, the target. Batch: SLUICE_BENCH_BATCH changes (default
// 10000). Files: SLUICE_BENCH_FILE_ROWS rows each (default the merge's
// Config.TargetFileRows default), for both the initial table and the
// merge; a comma-separated list runs each size as its own sub-benchmark
// (file_rows=N), to compare them in one run. The table is built directly
// (not through the merge) and that setup, like loading each batch into the
// raw table, is not timed.
func BenchmarkMerge(b *testing.B) {
	base := benchEnvInt("SLUICE_BENCH_ROWS", 200000)
	if os.Getenv("SLUICE_BENCH_FULL") == "1" {
		base = 10_000_000
	}
	batch := benchEnvInt("SLUICE_BENCH_BATCH", 10000)
	fileRowsList := []int{benchFileRows}
	if v := os.Getenv("SLUICE_BENCH_FILE_ROWS"); v != "" {
		fileRowsList = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("SLUICE_BENCH_FILE_ROWS: %q is not a positive integer", f)
			}
			fileRowsList = append(fileRowsList, n)
		}
	}
	for _, fileRows := range fileRowsList {
		b.Run("file_rows="+strconv.Itoa(fileRows), func(b *testing.B) { benchmarkMerge(b, base, batch, fileRows) })
	}
}

// benchFileRows is the SCD1 file size BenchmarkMerge uses by default: the
// merge's own default, so the figures are what an unconfigured table gets.
const benchFileRows = defaultTargetFileRows

// benchmarkMerge runs every kind on tables of base rows in files of
// fileRows rows, merging batches of batch changes.
func benchmarkMerge(b *testing.B, base, batch, fileRows int) {
	for _, kind := range []string{"inserts", "clustered-updates", "clustered-updates-dv", "random-updates", "random-updates-dv"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			env := newSCD1Env(b)
			env.cfg.TargetFileRows = fileRows
			id := schemas.TableID{Database: "bench", Schema: "public", Table: "t"}
			dvs := strings.HasSuffix(kind, "-dv")
			if dvs {
				// the same updates, with deletion vectors instead of
				// copy-on-write (deletionvectors.go)
				env.cfg.Tables[id.String()] = TableConfig{DeletionVectors: true}
			}
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
			// The merge creates the table from its first rows; the rest is
			// written directly, as a merge of everything would have.
			first := min(base, 1000)
			keys := make([]int64, first)
			for k := range keys {
				keys[k] = int64(k)
			}
			load(keys, schemas.OpCreate)
			if _, err := Run(ctx, env.raw.table, env.warehouse, env.cfg, nil); err != nil {
				b.Fatal(err)
			}
			table := lakelog.Open(blob.Sub(env.warehouse, DefaultLocation(env.cfg.TablesRoot, id)), lakelog.Options{})
			setup := time.Now()
			bulkLoad(b, table, int64(first), int64(base), fileRows)
			// logged so that a long (10M-row) run shows where its time goes
			b.Logf("N=%d: table of %d rows loaded in %v", b.N, base, time.Since(setup).Round(time.Millisecond))

			var full, fullCPU time.Duration
			fullRSS := -1.0
			if kind == "random-updates" || kind == "random-updates-dv" {
				rssOK := resetPeakRSS()
				full, fullCPU = fullRewrite(b, table, fileRows)
				if rssOK {
					fullRSS = peakRSSMB()
				}
				b.Logf("N=%d: full rewrite baseline %v wall, %v CPU, peak RSS %.0f MiB", b.N, full.Round(time.Millisecond), fullCPU.Round(time.Millisecond), fullRSS)
			}
			// The table and raw log live in memory (memblob): their size is
			// part of every RSS figure, so it is reported on its own.
			rssOK := resetPeakRSS()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			liveMB := float64(ms.HeapAlloc) / (1 << 20)
			rng := rand.New(rand.NewPCG(1, 2))
			next := int64(base)
			var changed, rewritten, dvRows int64
			var elapsed, cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				keys := make([]int64, batch)
				for j := range keys {
					switch kind {
					case "inserts":
						keys[j] = next
						next++
					case "clustered-updates", "clustered-updates-dv":
						keys[j] = int64(j) + int64(i*batch+batch/3)%int64(max(base-batch, 1))
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
				t0, c0 := time.Now(), cpuTime()
				rep, err := Run(ctx, env.raw.table, env.warehouse, env.cfg, nil)
				elapsed += time.Since(t0)
				cpu += cpuTime() - c0
				if err != nil {
					b.Fatal(err)
				}
				for _, tr := range rep.Tables {
					changed += int64(tr.ChangesApplied)
					rewritten += tr.RowsRewritten
					dvRows += tr.RowsDeletionVectored
				}
			}
			b.ReportMetric(float64(changed)/cpu.Seconds(), "changed_rows/cpu_s")
			b.ReportMetric(float64(changed)/elapsed.Seconds(), "changed_rows/s")
			b.ReportMetric(float64(rewritten)/float64(max(changed, 1)), "rows_rewritten/changed_row")
			if dvs {
				b.ReportMetric(float64(dvRows)/float64(max(changed, 1)), "rows_dv/changed_row")
			}
			b.ReportMetric(liveMB, "setup-heap-MB")
			if rssOK {
				b.ReportMetric(peakRSSMB(), "merge-peak-rss-MB")
			}
			if fullRSS >= 0 {
				b.ReportMetric(fullRSS, "full-rewrite-peak-rss-MB")
			}
			if full > 0 { // reported here: ResetTimer drops metrics reported before it
				b.ReportMetric(float64(full.Milliseconds()), "full_rewrite_ms")
				b.ReportMetric(100*elapsed.Seconds()/float64(b.N)/full.Seconds(), "%_of_full_rewrite")
				// CPU time is steadier than wall time on a shared machine
				b.ReportMetric(100*cpu.Seconds()/float64(b.N)/fullCPU.Seconds(), "%_of_full_rewrite_cpu")
			}
		})
	}
}

// resetPeakRSS collects garbage, returns freed memory to the OS and resets
// the process's VmHWM, so that peakRSSMB measures what follows. It reports
// false where /proc/self/clear_refs is not writable.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSMB is the process's VmHWM in MiB, or -1 when unknown.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64); err == nil {
				return kb / 1024
			}
		}
	}
	return -1
}

// bulkLoad adds rows with keys [from, to) to the merged table in files of
// fileRows rows, each row as the merge writes an insert.
func bulkLoad(b *testing.B, table *lakelog.Table, from, to int64, fileRows int) {
	ctx := context.Background()
	snap, err := table.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ord, err := schemas.Source{Connector: schemas.ConnectorPostgres, CommitLSN: 1, LSN: 1}.OrderingKey()
	if err != nil {
		b.Fatal(err)
	}
	ts := time.UnixMilli(1700000000000).UTC()
	tx := snap.Begin("WRITE")
	var w *datafile.Writer
	flush := func() {
		add, err := w.Finish(ctx, table.Store(), "")
		if err != nil {
			b.Fatal(err)
		}
		tx.Add(add)
		w = nil
	}
	for k := from; k < to; k++ {
		if w == nil {
			if w, err = datafile.NewWriter(snap.Schema(), datafile.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		// id, v, n, ordering key, op, source ts, merged at
		if err := w.Write([]any{k, "value-" + strconv.FormatInt(k, 10), int64(1), ord, "c", ts, ts}); err != nil {
			b.Fatal(err)
		}
		if w.Rows() >= int64(fileRows) {
			flush()
		}
	}
	if w != nil {
		flush()
	}
	if _, err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}

// fullRewrite reads every row of the table and writes it into new files,
// as a merge that rewrites the whole table would, and returns the wall
// and CPU time.
func fullRewrite(b *testing.B, table *lakelog.Table, fileRows int) (time.Duration, time.Duration) {
	ctx := context.Background()
	snap, err := table.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	t0, c0 := time.Now(), cpuTime()
	var rows [][]any
	if err := readRows(ctx, table.Store(), snap.Files(), snap.Schema(), func(row []any) { rows = append(rows, row) }); err != nil {
		b.Fatal(err)
	}
	sortRows(rows, []int{0})
	adds, err := writeSorted(ctx, table.Store(), snap.Schema(), rows, func(r []any) any { return r[0] }, nil,
		fileLimits{rows: fileRows, bytes: 128 << 20, numIndexedCols: 32}, datafile.Options{})
	if err != nil {
		b.Fatal(err)
	}
	d, c := time.Since(t0), cpuTime()-c0
	for _, a := range adds { // leave the table as it was
		if err := table.Store().Delete(ctx, a.Path); err != nil {
			b.Fatal(err)
		}
	}
	return d, c
}
