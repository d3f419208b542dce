package tests

// The pipeline under test, wired as jobs would wire it but in-process:
// capture (goroutine) → Kafka (harness kfake) → ingest → raw table →
// merge → SCD1 tables, all in one warehouse store.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
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

// runCapture runs capture.Run with src in the background until the test
// ends (or stop is called); a capture error fails the test.
func runCapture(t *testing.T, src capture.Source, cfg capture.Config) (stop func()) {
	t.Helper()
	return runInBackground(t, "capture.Run", func(ctx context.Context) error {
		defer src.Close()
		return capture.Run(ctx, src, cfg, e2eLogger(t))
	})
}

// runInBackground runs run until the test ends or stop is called, which
// cancels its context and waits for it; an error fails the test.
func runInBackground(t *testing.T, what string, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// runCaptureRestarting runs capture.RunWithRestarts in the background until
// the test ends (or stop is called): every Run error (the source or Kafka
// went away) restarts capture with a fresh Source from open, after a backoff
// of 1–2 s. Only a lost position (or a bug making RunWithRestarts return an
// error) fails the test. cfg.Stats, when set, counts the restarts.
func runCaptureRestarting(t *testing.T, open func(context.Context) (capture.Source, error), cfg capture.Config) (stop func()) {
	t.Helper()
	return runInBackground(t, "capture.RunWithRestarts", func(ctx context.Context) error {
		return capture.RunWithRestarts(ctx, open, cfg, 2*time.Second, e2eLogger(t))
	})
}

// checkRawOnce checks that the raw table holds every change at most once:
// no Kafka position twice, and no change (topic, key, op, source ordering
// key) under two positions, which is what a capture that resumed from a
// stale position and re-sent committed changes would leave.
func checkRawOnce(t *testing.T, l *lake) {
	t.Helper()
	_, rows := crashReadRows(t, l.raw, ingest.RawSchema())
	seenPos := map[string]bool{}
	seenChange := map[string]string{}
	dups := 0
	for _, r := range rows {
		pos := r.position()
		if seenPos[pos] {
			t.Errorf("raw table: record %s appears twice", pos)
		}
		seenPos[pos] = true
		op, _ := r[schemas.RawColOp].(string)
		ord, _ := r[schemas.RawColOrderingKey].(string)
		if op == "" {
			continue // tombstone
		}
		key, _ := r[schemas.RawColKey].([]byte)
		id := fmt.Sprintf("%s|%s|%s|%s", r["topic"], key, op, ord)
		if prev, ok := seenChange[id]; ok {
			dups++
			if dups <= 10 {
				t.Errorf("raw table: change %s/%s (ordering key %s, key %s) at %s and again at %s", r["topic"], op, ord, short(string(key)), prev, pos)
			}
		}
		seenChange[id] = pos
	}
	if dups > 0 {
		t.Errorf("raw table: %d changes appear more than once", dups)
	}
	t.Logf("raw table: %d records, %d distinct changes", len(rows), len(seenChange))
}

// markerWatch reads the marker table's topic (read_committed) and waits for
// marker notes. Capture commits Kafka transactions in source order, so
// once a marker is visible every change committed before it is too.
type markerWatch struct {
	brokers []string
	topic   string
	cl      *kgo.Client
	seen    [][]byte
}

func newMarkerWatch(t *testing.T, brokers []string, topic string) *markerWatch {
	t.Helper()
	m := &markerWatch{brokers: brokers, topic: topic}
	m.connect(t)
	t.Cleanup(func() { m.cl.Close() })
	return m
}

// connect (re)creates the consumer, reading the topic from the start.
func (m *markerWatch) connect(t *testing.T) {
	t.Helper()
	if m.cl != nil {
		m.cl.Close()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(m.brokers...), kgo.ConsumeTopics(m.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	m.cl, m.seen = cl, nil
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
	// Under injected broker faults (a broker removed and added back) a
	// franz-go consumer was seen to stall for minutes (kfake v0.0.0-2026…):
	// after 20 s without the marker, a fresh consumer reads the topic again
	// from the start. A marker capture never committed stays unseen.
	fresh := time.Now()
	for {
		if time.Since(fresh) > 20*time.Second {
			t.Logf("marker %q not seen for 20 s: reconnecting the marker consumer", note)
			m.connect(t)
			fresh = time.Now()
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		fs := m.cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Logf("goroutines of the pipeline:\n%s", pipelineStacks())
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
		expectLakeNulls(t, w, wt, want, ours)
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

// expectLakeNulls sets, in want (the source rows), the columns that must
// read NULL in the lake although the source holds their DEFAULT: added with
// a default after the row was last sent (workload.LakeNulls). MariaDB logs
// no row event for an UPDATE that changes nothing, so a "touched" row may
// still read NULL there, and one the generator thinks untouched cannot have
// been sent: on MariaDB the lake may hold either NULL or the source value.
func expectLakeNulls(t *testing.T, w *workload.Workload, wt workload.Table, want, ours rowSet) {
	t.Helper()
	nulls := w.LakeNulls(wt.Name)
	if len(nulls) == 0 {
		return
	}
	set := 0
	for key, cols := range nulls {
		row, ok := want[key]
		if !ok {
			t.Errorf("seed %d: table %s: key %s awaits a default in the lake but is not in the source", w.Seed(), wt.Name, key)
			continue
		}
		for _, name := range cols {
			i := slices.IndexFunc(wt.Columns, func(c workload.Column) bool { return c.Name == name })
			if w.Dialect() == workload.MariaDB && ours[key] != nil && ours[key][i] == row[i] {
				continue
			}
			row[i] = nullText
			set++
		}
	}
	t.Logf("table %s: %d values expected NULL in the lake (column added with a default, row unchanged since)", wt.Name, set)
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
