package jobs

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/merge"
)

// scrape GETs url/metrics and parses it with Prometheus' own text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// metricValue returns the value of the series of name with exactly labels
// (a counter, gauge or untyped value; a histogram's sample count), and
// whether it exists.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func wantMetric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := metricValue(fams, name, labels)
	if !ok {
		t.Errorf("%s%v: missing", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func TestMetricsFromReports(t *testing.T) {
	m := NewMetrics()
	m.declareJob("run")
	ended := time.Unix(1_700_000_000, 0)
	rep := &Report{
		Job:      "run",
		Duration: ingest.Duration(3 * time.Second),
		Ingest: &ingest.Report{
			CommitVersion: 17,
			Topics: map[string]*ingest.TopicReport{
				"sluice.shop.orders": {Records: 120, Bytes: 4096, DeadLetters: 2, Partitions: []ingest.PartitionReport{{Partition: 0, Lag: 5}, {Partition: 1, Lag: 7}}},
				"sluice.shop.users":  {Records: 3, Bytes: 100, Partitions: []ingest.PartitionReport{{Partition: 0, Lag: -1}}},
			},
			Files: []ingest.FileReport{{Path: "a"}, {Path: "b"}},
		},
		Merge: &MergeReport{Report: &merge.Report{}, Tables: []MergeTableReport{
			{TableReport: merge.TableReport{Table: "shop.orders", RowsInserted: 10, RowsUpdated: 4, RowsDeleted: 1, RowsRewritten: 50, ToRawVersion: 17, SourceTsMs: 1_699_999_990_500}},
			{TableReport: merge.TableReport{Table: "shop.users", RowsInserted: 1, ToRawVersion: 16}, Err: "boom"},
		}},
	}
	m.observeRun("run", ResultOK, rep, ended, 0)
	m.observeRun("run", ResultRetryable, &Report{Job: "run", Duration: ingest.Duration(time.Second), Compact: &ingest.CompactReport{FilesRemoved: 9, BytesRemoved: 900, Rows: 77, Files: []ingest.FileReport{{Path: "c"}}}}, ended.Add(time.Minute), 1)
	m.skip("run", SkipOverlap)

	srv := httptest.NewServer(NewHTTPHandler(m, func() error { return nil }))
	defer srv.Close()
	fams := scrape(t, srv.URL)

	job := map[string]string{"job": "run"}
	wantMetric(t, fams, "sluice_job_runs_total", map[string]string{"job": "run", "result": "ok"}, 1)
	wantMetric(t, fams, "sluice_job_runs_total", map[string]string{"job": "run", "result": "retryable"}, 1)
	wantMetric(t, fams, "sluice_job_duration_seconds", job, 2) // two observations
	if f := fams["sluice_job_duration_seconds"]; f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
		if sum := f.Metric[0].Histogram.GetSampleSum(); sum != 4 {
			t.Errorf("duration sum = %v, want 4", sum)
		}
	} else {
		t.Errorf("sluice_job_duration_seconds is not a histogram")
	}
	wantMetric(t, fams, "sluice_job_last_success_timestamp_seconds", job, 1_700_000_000)
	wantMetric(t, fams, "sluice_job_last_run_timestamp_seconds", job, 1_700_000_060)
	wantMetric(t, fams, "sluice_job_consecutive_failures", job, 1)
	wantMetric(t, fams, "sluice_job_skipped_total", map[string]string{"job": "run", "reason": "overlap"}, 1)
	wantMetric(t, fams, "sluice_job_skipped_total", map[string]string{"job": "run", "reason": "lease_held"}, 0)
	wantMetric(t, fams, "sluice_job_lease_held", job, 0)

	orders := map[string]string{"topic": "sluice.shop.orders"}
	wantMetric(t, fams, "sluice_ingest_records_total", orders, 120)
	wantMetric(t, fams, "sluice_ingest_bytes_total", orders, 4096)
	wantMetric(t, fams, "sluice_ingest_dead_letters_total", orders, 2)
	wantMetric(t, fams, "sluice_ingest_lag_records", orders, 12)
	if _, ok := metricValue(fams, "sluice_ingest_lag_records", map[string]string{"topic": "sluice.shop.users"}); ok {
		t.Errorf("lag of a topic whose lag is unknown (-1) must not be exported")
	}
	wantMetric(t, fams, "sluice_ingest_files_total", nil, 2)
	wantMetric(t, fams, "sluice_ingest_commit_version", nil, 17)

	wantMetric(t, fams, "sluice_merge_rows_total", map[string]string{"table": "shop.orders", "op": "insert"}, 10)
	wantMetric(t, fams, "sluice_merge_rows_total", map[string]string{"table": "shop.orders", "op": "update"}, 4)
	wantMetric(t, fams, "sluice_merge_rows_total", map[string]string{"table": "shop.orders", "op": "delete"}, 1)
	wantMetric(t, fams, "sluice_merge_rows_rewritten_total", map[string]string{"table": "shop.orders"}, 50)
	wantMetric(t, fams, "sluice_merge_source_commit_timestamp_seconds", map[string]string{"table": "shop.orders"}, 1_699_999_990.5)
	wantMetric(t, fams, "sluice_merge_raw_version", map[string]string{"table": "shop.orders"}, 17)
	wantMetric(t, fams, "sluice_merge_table_failures_total", map[string]string{"table": "shop.users"}, 1)
	if _, ok := metricValue(fams, "sluice_merge_raw_version", map[string]string{"table": "shop.users"}); ok {
		t.Errorf("a failed table's raw version must not be exported as its freshness")
	}

	wantMetric(t, fams, "sluice_compact_files_removed_total", nil, 9)
	wantMetric(t, fams, "sluice_compact_files_written_total", nil, 1)
	wantMetric(t, fams, "sluice_compact_bytes_removed_total", nil, 900)
	wantMetric(t, fams, "sluice_compact_rows_total", nil, 77)

	if fams["go_goroutines"] == nil || fams["process_start_time_seconds"] == nil && fams["process_cpu_seconds_total"] == nil {
		t.Errorf("runtime collectors missing")
	}
}

func TestHealthzCodes(t *testing.T) {
	var health error
	srv := httptest.NewServer(NewHTTPHandler(NewMetrics(), func() error { return health }))
	defer srv.Close()
	get := func() (int, string) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || body != "ok\n" {
		t.Errorf("healthy: %d %q", code, body)
	}
	health = errors.New("job merge: 3 failed runs in a row")
	if code, body := get(); code != 503 || body != "job merge: 3 failed runs in a row\n" {
		t.Errorf("unhealthy: %d %q", code, body)
	}
}
