package tests

// The pipeline under test, wired as jobs would wire it but in-process:
// capture (goroutine) → Kafka (harness kfake) → ingest → raw table →
// merge → SCD1 tables, all in one warehouse store.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/workload"
)

const e2eTablesRoot = "tables"

func e2eLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("SLUICE_E2E_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// runCapture runs capture.Run with src in the background until the test
// ends (or stop is called); a capture error fails the test.
func runCapture(t *testing.T, src capture.Source, cfg capture.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- capture.Run(ctx, src, cfg, e2eLogger(t)) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture.Run: %v", err)
		}
		src.Close()
	}
	t.Cleanup(stop)
	return stop
}

// markerWatch reads the marker table's topic (read_committed) and waits for
// marker notes. Capture commits Kafka transactions in source order, so
// once a marker is visible every change committed before it is too.
type markerWatch struct {
	cl   *kgo.Client
	seen [][]byte
}

func newMarkerWatch(t *testing.T, brokers []string, topic string) *markerWatch {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &markerWatch{cl: cl}
}

// wait blocks until a record whose value contains note arrives.
func (m *markerWatch) wait(t *testing.T, note string, timeout time.Duration) {
	t.Helper()
	want := []byte(`"` + note + `"`)
	for _, v := range m.seen {
		if bytes.Contains(v, want) {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		fs := m.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("marker %q did not reach Kafka within %s", note, timeout)
		}
		found := false
		fs.EachRecord(func(r *kgo.Record) {
			m.seen = append(m.seen, r.Value)
			if bytes.Contains(r.Value, want) {
				found = true
			}
		})
		if found {
			return
		}
	}
}

// lake is the raw table, dead-letter table and SCD1 tables in one store.
type lake struct {
	store      blob.Store
	raw, dead  *lakelog.Table
	brokers    []string
	topicRegex string
	groupID    string
}

func newLake(store blob.Store, brokers []string, topicRegex string) *lake {
	return &lake{
		store:      store,
		raw:        lakelog.Open(blob.Sub(store, "raw/cdc"), lakelog.Options{}),
		dead:       lakelog.Open(blob.Sub(store, "raw/dead_letters"), lakelog.Options{}),
		brokers:    brokers,
		topicRegex: topicRegex,
		groupID:    "e2e-" + strings.ReplaceAll(topicRegex, `\`, ""),
	}
}

// ingestAndMerge runs one available-now ingest and one merge, failing the
// test on any error, dead letter or failed table.
func (l *lake) ingestAndMerge(t *testing.T, round int) *merge.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	irep, err := ingest.Run(ctx, ingest.Config{
		Brokers:            l.brokers,
		TopicRegex:         l.topicRegex,
		GroupID:            l.groupID,
		MaxDeadLetterRatio: 1, // counted below, with a clearer message
		ReadTimeout:        30 * time.Second,
	}, l.raw, l.dead, e2eLogger(t))
	if err != nil {
		t.Fatalf("round %d: ingest: %v", round, err)
	}
	if irep.DeadLetters != 0 {
		t.Errorf("round %d: ingest wrote %d dead letters, want 0", round, irep.DeadLetters)
	}
	if irep.Records == 0 {
		t.Errorf("round %d: ingest read no records", round)
	}
	mrep, err := merge.Run(ctx, l.raw, l.store, merge.Config{TablesRoot: e2eTablesRoot}, e2eLogger(t))
	if err != nil {
		t.Fatalf("round %d: merge: %v", round, err)
	}
	for _, tr := range mrep.Tables {
		if tr.Err != nil {
			t.Errorf("round %d: merge table %s: %v", round, tr.Table, tr.Err)
		}
	}
	t.Logf("round %d: ingest %d records in %d files (raw v%d); merge raw v%d→v%d, %d files read, %d skipped",
		round, irep.Records, len(irep.Files), irep.CommitVersion, mrep.FromRawVersion, mrep.RawVersion, mrep.FilesRead, mrep.FilesSkipped)
	for _, tr := range mrep.Tables {
		t.Logf("  %s: read %d applied %d skipped %d; +%d ~%d -%d rows; rewrote %d, wrote %d rows; v%d",
			tr.Table, tr.ChangesRead, tr.ChangesApplied, tr.ChangesSkipped, tr.RowsInserted, tr.RowsUpdated, tr.RowsDeleted,
			tr.RowsRewritten, tr.RowsWritten, tr.Version)
	}
	return mrep
}

// compareAll compares every workload table with its SCD1 table, read with
// our reader and, when localDir is not empty (the warehouse's directory),
// with DuckDB. source reads a source table as canonical rows.
func compareAll(t *testing.T, w *workload.Workload, l *lake, db string, schema string, localDir string, source func(workload.Table) rowSet) {
	t.Helper()
	ctx := context.Background()
	failed := false
	for _, wt := range w.Tables() {
		id := schemas.TableID{Database: db, Schema: schema, Table: wt.Name}
		loc := merge.DefaultLocation(e2eTablesRoot, id)
		want := source(wt)
		ours, deltaSchema := readLakeOurs(ctx, t, blob.Sub(l.store, loc), wt)
		if deltaSchema != nil {
			for _, e := range checkSchema(wt, deltaSchema) {
				t.Errorf("seed %d: table %s: %s", w.Seed(), wt.Name, e)
			}
		}
		d := diffRows(wt, want, ours, 8)
		if len(d) > 0 {
			failed = true
			t.Errorf("seed %d: table %s: SCD1 (our reader, %d rows) differs from source (%d rows):\n  %s",
				w.Seed(), wt.Name, len(ours), len(want), strings.Join(d, "\n  "))
			logSteps(t, w, wt, d)
		}
		if localDir != "" && deltaSchema != nil {
			duck := readLakeDuckDB(t, localDir+"/"+loc, wt)
			if d := diffRows(wt, want, duck, 8); len(d) > 0 {
				failed = true
				t.Errorf("seed %d: table %s: SCD1 (DuckDB, %d rows) differs from source (%d rows):\n  %s",
					w.Seed(), wt.Name, len(duck), len(want), strings.Join(d, "\n  "))
			}
		}
		if !failed {
			t.Logf("table %s: %d rows equal in source and lake", wt.Name, len(want))
		}
	}
	if failed {
		st := w.Stats()
		t.Logf("replay with SLUICE_E2E_SEED=%d; workload stats %+v; %d statements", w.Seed(), st, len(w.Log()))
	}
}

// e2eSeed returns SLUICE_E2E_SEED when set (replay), else a fresh seed.
func e2eSeed(t *testing.T) uint64 {
	if s := os.Getenv("SLUICE_E2E_SEED"); s != "" {
		var v uint64
		if _, err := fmt.Sscan(s, &v); err != nil {
			t.Fatalf("SLUICE_E2E_SEED %q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

func topicRegex(prefix, schemaOrDB string) string {
	return regexp.QuoteMeta(prefix+"."+schemaOrDB+".") + ".*"
}

// logSteps prints the workload statements on the table that name the
// first differing keys (diff lines start with "key <k1|k2>:").
func logSteps(t *testing.T, w *workload.Workload, wt workload.Table, diff []string) {
	t.Helper()
	for _, line := range diff[:min(3, len(diff))] {
		k, ok := strings.CutPrefix(line, "key ")
		if !ok {
			continue
		}
		k, _, _ = strings.Cut(k, ":")
		parts := strings.Split(k, "|")
		var steps []string
		for _, st := range w.Log() {
			if !strings.Contains(st, " "+wt.Name+" ") {
				continue
			}
			all := true
			for _, p := range parts {
				if !strings.Contains(st, p) {
					all = false
				}
			}
			if all {
				steps = append(steps, st)
			}
		}
		if len(steps) == 0 {
			continue
		}
		t.Logf("statements naming key %s of %s:\n    %s", k, wt.Name, strings.Join(steps, "\n    "))
	}
}
