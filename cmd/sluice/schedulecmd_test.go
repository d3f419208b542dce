package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/schemas"
)

// lockedBuffer collects a running command's output for the test to read.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// produceUsers writes n inserts of app.public.users (PostgreSQL-shaped
// Debezium events with schemas) to topic sluice.public.users.
func produceUsers(t *testing.T, brokers []string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cols := []schemas.Column{{Name: "id", Type: schemas.Int32}, {Name: "name", Type: schemas.String, Optional: true}}
	table := schemas.TableID{Database: "app", Schema: "public", Table: "users"}
	var recs []*kgo.Record
	for i := 1; i <= n; i++ {
		ts := time.Date(2026, 2, 1, 12, 0, i, 0, time.UTC).UnixMilli()
		c := &schemas.Change{
			Table: table, Op: schemas.OpCreate, Columns: cols, Key: []string{"id"},
			After: []any{int32(i), fmt.Sprintf("user %d", i)}, TsMs: ts + 5,
			Source: schemas.Source{Version: "test", Connector: schemas.ConnectorPostgres, Name: "sluice", TsMs: ts,
				DB: "app", Schema: "public", Table: "users", LSN: uint64(1000 + 10*i), CommitLSN: uint64(1000 + 10*i), TxID: int64(500 + i)},
		}
		k, err := schemas.EncodeKey(c, true)
		if err != nil {
			t.Fatal(err)
		}
		v, err := schemas.EncodeValue(c, true)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: table.Topic("sluice"), Key: k, Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// scrapeMetrics parses /metrics with Prometheus' own parser; nil when the
// server does not answer yet.
func scrapeMetrics(addr string) map[string]*dto.MetricFamily {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil
	}
	return fams
}

// sumMetric sums a counter or gauge family's series whose labels include
// match.
func sumMetric(fams map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	var sum float64
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		for k, v := range match {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// `sluice schedule` against a local lake and an in-process Kafka: it runs
// the run job on its schedule, serves metrics that say what it ingested and
// merged, answers /healthz, and stops cleanly (exit 0) when its context
// ends, which is what SIGTERM does in main.
func TestScheduleCommand(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	produceUsers(t, brokers, 3)

	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "sluice.yaml")
	cfg := fmt.Sprintf(`
warehouse: %s
kafka: {brokers: [%q]}
log: {format: json}
schedule:
  listen: 127.0.0.1:1   # overridden by --listen
  jobs:
    - {name: run, cron: "@every 1s", timeout: 1m}
    - {name: compact, cron: "@every 1s"}
`, filepath.Join(dir, "lake"), brokers[0])
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"schedule", "--config", cfgPath, "--listen", addr}, &cmdEnv{stdout: &stdout, stderr: &stderr})
	}()

	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(90 * time.Second)
	for {
		fams = scrapeMetrics(addr)
		if sumMetric(fams, "sluice_job_runs_total", map[string]string{"job": "run", "result": "ok"}) >= 2 &&
			sumMetric(fams, "sluice_merge_rows_total", map[string]string{"op": "insert"}) >= 3 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("schedule exited early with %d:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful runs with merged rows in the metrics; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := sumMetric(fams, "sluice_ingest_records_total", map[string]string{"topic": "sluice.public.users"}); got != 3 {
		t.Errorf("sluice_ingest_records_total{topic=sluice.public.users} = %v, want 3", got)
	}
	if got := sumMetric(fams, "sluice_merge_rows_total", map[string]string{"op": "insert"}); got != 3 {
		t.Errorf("merged inserts = %v, want 3 (each event merged once)", got)
	}
	wantFresh := float64(time.Date(2026, 2, 1, 12, 0, 3, 0, time.UTC).Unix())
	if got := sumMetric(fams, "sluice_merge_source_commit_timestamp_seconds", nil); got != wantFresh {
		t.Errorf("SCD1 freshness = %v, want the last event's source commit time %v", got, wantFresh)
	}
	if sumMetric(fams, "sluice_job_runs_total", map[string]string{"job": "compact"}) < 1 {
		t.Errorf("compact never ran")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-done:
		if code != jobs.ExitOK {
			t.Errorf("exit %d after a clean stop, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("schedule did not stop after its context ended")
	}
	if !strings.Contains(stderr.String(), `"msg":"run report"`) {
		t.Errorf("no run report in the log:\n%s", stderr.String())
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Errorf("the metrics server still answers after exit")
	}
}

func TestScheduleCommandConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"schedule: {jobs: [{name: run, cron: '*/5 * *'}]}", "schedule.jobs[0].cron"},
		{"schedule: {jobs: [{name: vacuum, cron: '@daily'}]}", "schedule.jobs[0].name"},
		{"schedule: {}", "schedule.jobs"},
	} {
		p := filepath.Join(dir, "sluice.yaml")
		os.WriteFile(p, []byte("warehouse: "+filepath.Join(dir, "lake")+"\n"+tc.yaml+"\n"), 0o600)
		code, _, stderr := run(t, "schedule", "--config", p)
		if code != jobs.ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %s", tc.yaml, code, stderr, tc.want)
		}
	}
}
