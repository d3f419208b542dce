package jobs

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of `sluice schedule` (and of `capture
// --metrics-addr`), in a registry of their own so that two schedulers in one
// process (tests) do not collide and nothing registered globally by a
// library leaks in. Every name is documented in docs/metrics.md; keep the
// two in step. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	runs           *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	lastSuccess    *prometheus.GaugeVec
	lastRun        *prometheus.GaugeVec
	skipped        *prometheus.CounterVec
	leaseHeld      *prometheus.GaugeVec
	running        *prometheus.GaugeVec
	failuresInARow *prometheus.GaugeVec

	ingestRecords     *prometheus.CounterVec
	ingestBytes       *prometheus.CounterVec
	ingestDeadLetters *prometheus.CounterVec
	ingestFiles       prometheus.Counter
	ingestVersion     prometheus.Gauge
	ingestLag         *prometheus.GaugeVec

	mergeRows        *prometheus.CounterVec
	mergeRewritten   *prometheus.CounterVec
	mergeFreshness   *prometheus.GaugeVec
	mergeRawVersion  *prometheus.GaugeVec
	mergeTableErrors *prometheus.CounterVec

	compactFilesRemoved prometheus.Counter
	compactFilesWritten prometheus.Counter
	compactBytesRemoved prometheus.Counter
	compactRows         prometheus.Counter
}

// Run results, the values of the result label of sluice_job_runs_total.
const (
	ResultOK          = "ok"
	ResultFailed      = "failed"
	ResultUsage       = "usage"
	ResultRetryable   = "retryable"
	ResultDataQuality = "data_quality"
	ResultNeedsAction = "needs_action"
	ResultTimeout     = "timeout"
	ResultCancelled   = "cancelled"  // stopped by shutdown
	ResultLeaseLost   = "lease_lost" // stopped because the lease could not be renewed
)

// Skip reasons, the values of the reason label of sluice_job_skipped_total.
const (
	SkipOverlap   = "overlap"    // the previous run in this process was still running
	SkipLeaseHeld = "lease_held" // another process holds the job's lease
)

// durationBuckets span a second to two hours: jobs are cron ticks.
var durationBuckets = []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}

// NewMetrics returns the metrics in a fresh registry, with the Go runtime
// and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	m.runs = counter("sluice_job_runs_total", "Finished scheduled runs by job and result.", "job", "result")
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sluice_job_duration_seconds", Help: "Wall time of finished scheduled runs.", Buckets: durationBuckets,
	}, []string{"job"})
	m.reg.MustRegister(m.duration)
	m.lastSuccess = gauge("sluice_job_last_success_timestamp_seconds", "Unix time the last successful run of the job ended.", "job")
	m.lastRun = gauge("sluice_job_last_run_timestamp_seconds", "Unix time the last run of the job ended, whatever its result.", "job")
	m.skipped = counter("sluice_job_skipped_total", "Ticks on which the job did not start, by reason (overlap, lease_held).", "job", "reason")
	m.leaseHeld = gauge("sluice_job_lease_held", "1 while this process holds the job's lease in the lake.", "job")
	m.running = gauge("sluice_job_running", "1 while a run of the job is in progress in this process.", "job")
	m.failuresInARow = gauge("sluice_job_consecutive_failures", "Failed runs of the job since its last success.", "job")

	m.ingestRecords = counter("sluice_ingest_records_total", "Records committed to the raw table, by topic.", "topic")
	m.ingestBytes = counter("sluice_ingest_bytes_total", "Key and value bytes of the records committed to the raw table, by topic.", "topic")
	m.ingestDeadLetters = counter("sluice_ingest_dead_letters_total", "Records committed to the dead-letter table, by topic.", "topic")
	m.ingestFiles = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_ingest_files_total", Help: "Data files committed to the raw table."})
	m.ingestVersion = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_ingest_commit_version", Help: "The raw table version the last ingest committed."})
	m.reg.MustRegister(m.ingestFiles, m.ingestVersion)
	m.ingestLag = gauge("sluice_ingest_lag_records", "After the last ingest: offsets between the raw table and the ends of the topic's partitions.", "topic")

	m.mergeRows = counter("sluice_merge_rows_total", "SCD1 rows changed by merges, by table and op (insert, update, delete).", "table", "op")
	m.mergeRewritten = counter("sluice_merge_rows_rewritten_total", "Unchanged SCD1 rows copied into new files because their file was rewritten.", "table")
	m.mergeFreshness = gauge("sluice_merge_source_commit_timestamp_seconds", "SCD1 freshness: the source commit time (Unix) the table is complete through.", "table")
	m.mergeRawVersion = gauge("sluice_merge_raw_version", "The raw table version the SCD1 table is complete through.", "table")
	m.mergeTableErrors = counter("sluice_merge_table_failures_total", "Merges of one table that failed (the other tables went on).", "table")

	m.compactFilesRemoved = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_compact_files_removed_total", Help: "Small raw files replaced by compaction."})
	m.compactFilesWritten = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_compact_files_written_total", Help: "Raw files written by compaction."})
	m.compactBytesRemoved = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_compact_bytes_removed_total", Help: "Bytes of the raw files replaced by compaction."})
	m.compactRows = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_compact_rows_total", Help: "Rows rewritten by compaction."})
	m.reg.MustRegister(m.compactFilesRemoved, m.compactFilesWritten, m.compactBytesRemoved, m.compactRows)

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// declareJob makes the job's series exist (at zero) before its first run,
// so dashboards and alerts see the job from the start.
func (m *Metrics) declareJob(job string) {
	m.runs.WithLabelValues(job, ResultOK)
	m.skipped.WithLabelValues(job, SkipOverlap)
	m.skipped.WithLabelValues(job, SkipLeaseHeld)
	m.leaseHeld.WithLabelValues(job).Set(0)
	m.running.WithLabelValues(job).Set(0)
	m.failuresInARow.WithLabelValues(job).Set(0)
	m.duration.WithLabelValues(job)
}

func (m *Metrics) skip(job, reason string) { m.skipped.WithLabelValues(job, reason).Inc() }

func (m *Metrics) setLeaseHeld(job string, held bool) {
	m.leaseHeld.WithLabelValues(job).Set(b2f(held))
}

func (m *Metrics) setRunning(job string, running bool) {
	m.running.WithLabelValues(job).Set(b2f(running))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observeRun records a finished run: its result, duration, and what its
// report says the job did.
func (m *Metrics) observeRun(job, result string, rep *Report, ended time.Time, failuresInARow int) {
	m.runs.WithLabelValues(job, result).Inc()
	m.lastRun.WithLabelValues(job).Set(float64(ended.UnixNano()) / 1e9)
	m.failuresInARow.WithLabelValues(job).Set(float64(failuresInARow))
	if result == ResultOK {
		m.lastSuccess.WithLabelValues(job).Set(float64(ended.UnixNano()) / 1e9)
	}
	if rep == nil {
		return
	}
	m.duration.WithLabelValues(job).Observe(time.Duration(rep.Duration).Seconds())
	m.observeReport(rep)
}

// observeReport adds what one report committed. A failed run still
// reports what it committed before failing, so it is counted too.
func (m *Metrics) observeReport(rep *Report) {
	if r := rep.Ingest; r != nil {
		for topic, t := range r.Topics {
			m.ingestRecords.WithLabelValues(topic).Add(float64(t.Records))
			m.ingestBytes.WithLabelValues(topic).Add(float64(t.Bytes))
			m.ingestDeadLetters.WithLabelValues(topic).Add(float64(t.DeadLetters))
			var lag int64
			known := len(t.Partitions) > 0
			for _, p := range t.Partitions {
				if p.Lag < 0 {
					known = false
					break
				}
				lag += p.Lag
			}
			if known {
				m.ingestLag.WithLabelValues(topic).Set(float64(lag))
			}
		}
		m.ingestFiles.Add(float64(len(r.Files)))
		if r.CommitVersion >= 0 {
			m.ingestVersion.Set(float64(r.CommitVersion))
		}
	}
	if r := rep.Merge; r != nil {
		for _, t := range r.Tables {
			m.mergeRows.WithLabelValues(t.Table, "insert").Add(float64(t.RowsInserted))
			m.mergeRows.WithLabelValues(t.Table, "update").Add(float64(t.RowsUpdated))
			m.mergeRows.WithLabelValues(t.Table, "delete").Add(float64(t.RowsDeleted))
			m.mergeRewritten.WithLabelValues(t.Table).Add(float64(t.RowsRewritten))
			if t.Err != "" {
				m.mergeTableErrors.WithLabelValues(t.Table).Inc()
				continue
			}
			if t.SourceTsMs > 0 {
				m.mergeFreshness.WithLabelValues(t.Table).Set(float64(t.SourceTsMs) / 1e3)
			}
			if t.ToRawVersion >= 0 {
				m.mergeRawVersion.WithLabelValues(t.Table).Set(float64(t.ToRawVersion))
			}
		}
	}
	if r := rep.Compact; r != nil {
		m.compactFilesRemoved.Add(float64(r.FilesRemoved))
		m.compactFilesWritten.Add(float64(len(r.Files)))
		m.compactBytesRemoved.Add(float64(r.BytesRemoved))
		m.compactRows.Add(float64(r.Rows))
	}
}

// resultOf names a run's outcome from its exit code.
func resultOf(code int) string {
	switch code {
	case ExitOK:
		return ResultOK
	case ExitUsage:
		return ResultUsage
	case ExitRetryable:
		return ResultRetryable
	case ExitDataQuality:
		return ResultDataQuality
	case ExitNeedsAction:
		return ResultNeedsAction
	}
	return ResultFailed
}

// HealthFunc reports nil when healthy, or why not.
type HealthFunc func() error

// NewHTTPHandler serves /metrics (Prometheus text or OpenMetrics, as the
// scraper asks) from m and /healthz from health: 200 "ok", or 503 with the
// reason as text.
func NewHTTPHandler(m *Metrics, health HealthFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err.Error())
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
