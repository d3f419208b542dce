package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

func TestRunExactlyOnceAcrossReruns(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 3)
	var recs []*kgo.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, rec("srv.public.orders", int32(i%3), fmt.Sprint(i), pgEvent("orders", i, 1000+uint64(i), 2000+uint64(i))))
	}
	for i := 0; i < 5; i++ {
		recs = append(recs, rec("srv.public.users", 0, fmt.Sprint(i), pgEvent("users", i, 10, 20+uint64(i))))
	}
	produce(t, brokers, recs...)
	raw, dead := newTables()
	cfg := testConfig(brokers, `srv\..*`)

	rep, err := Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 35 || rep.CommitVersion != 1 {
		t.Fatalf("first run: records %d version %d, want 35 at version 1", rep.Records, rep.CommitVersion)
	}
	if got := rep.Topics["srv.public.orders"].Records; got != 30 {
		t.Errorf("orders records = %d, want 30", got)
	}
	want := sortedConcat(expectPositions("srv.public.orders", 0, 0, 10), expectPositions("srv.public.orders", 1, 0, 10),
		expectPositions("srv.public.orders", 2, 0, 10), expectPositions("srv.public.users", 0, 0, 5))
	if got := positions(t, readTable(t, raw, RawSchema())); !slices.Equal(got, want) {
		t.Fatalf("positions after first run:\n got %v\nwant %v", got, want)
	}

	// Second run: nothing new, nothing written.
	rep, err = Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 0 || len(rep.Commits) != 0 || len(rep.Files) != 0 {
		t.Fatalf("second run wrote: records %d commits %v files %d", rep.Records, rep.Commits, len(rep.Files))
	}
	if rep.Lag != 0 {
		t.Errorf("lag after catching up = %d, want 0", rep.Lag)
	}

	// More records: only those are read.
	produce(t, brokers, rec("srv.public.orders", 1, "x", pgEvent("orders", 99, 5000, 5001)), rec("srv.public.orders", 1, "y", pgEvent("orders", 100, 5000, 5002)))
	rep, err = Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 2 {
		t.Fatalf("third run records = %d, want 2", rep.Records)
	}
	want = sortedConcat(want, expectPositions("srv.public.orders", 1, 10, 12))
	if got := positions(t, readTable(t, raw, RawSchema())); !slices.Equal(got, want) {
		t.Fatalf("positions after third run:\n got %v\nwant %v", got, want)
	}
	snap, err := raw.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := snap.AppVersion("sluice-ingest|srv.public.orders|1"); !ok || v != 11 {
		t.Errorf("txn version orders/1 = %d,%v, want 11", v, ok)
	}
	if v, ok := snap.AppVersion("sluice-ingest|srv.public.users|0"); !ok || v != 4 {
		t.Errorf("txn version users/0 = %d,%v, want 4", v, ok)
	}
	// The consumer group got the offsets too (for lag tools).
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	got, err := kadm.NewClient(cl).FetchOffsets(ctx, DefaultGroupID)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := got.Lookup("srv.public.orders", 1); !ok || o.At != 12 {
		t.Errorf("group offset orders/1 = %+v, want 12", o)
	}
}

func TestRawRowColumns(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
	r := rec("srv.public.orders", 0, `{"id":7}`, pgEvent("orders", 7, 0x1A, 0x2B))
	r.Timestamp = ts
	r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v1")}, {Key: "h", Value: []byte("v2")}}
	tomb := rec("srv.public.orders", 0, `{"id":7}`, nil)
	tomb.Timestamp = ts
	produce(t, brokers, r, tomb)
	raw, dead := newTables()
	fixed := time.Date(2025, 1, 2, 3, 4, 5, 678912000, time.UTC)
	cfg := testConfig(brokers, `srv\..*`)
	cfg.Now = func() time.Time { return fixed }
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	rows := readTable(t, raw, RawSchema())
	if len(rows) != 2 {
		t.Fatalf("rows = %d, want 2", len(rows))
	}
	slices.SortFunc(rows, func(a, b rawRow) int { return int(a["offset"].(int64) - b["offset"].(int64)) })
	row := rows[0]
	checks := map[string]any{
		"topic": "srv.public.orders", "partition": int32(0), "offset": int64(0),
		"op": "c", "source_connector": "postgresql", "source_db": "shop", "source_schema": "public", "source_table": "orders",
		"ordering_key": "P000000000000001A000000000000002B", "tx_id": "777", "snapshot": false,
		"headers": `{"h":"djE=","h#1":"djI="}`,
	}
	for col, want := range checks {
		if got := row[col]; got != want {
			t.Errorf("%s = %#v, want %#v", col, got, want)
		}
	}
	if got := string(row["key"].([]byte)); got != `{"id":7}` {
		t.Errorf("key = %q", got)
	}
	if got := string(row["value"].([]byte)); got != string(pgEvent("orders", 7, 0x1A, 0x2B)) {
		t.Errorf("value not byte-identical: %q", got)
	}
	if got := row["kafka_ts"].(time.Time); !got.Equal(ts) {
		t.Errorf("kafka_ts = %v, want %v", got, ts)
	}
	if got := row["source_ts"].(time.Time); !got.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("source_ts = %v", got)
	}
	if got := row["ingest_ts"].(time.Time); !got.Equal(fixed.Truncate(time.Microsecond)) {
		t.Errorf("ingest_ts = %v, want %v", got, fixed)
	}
	if got, _ := row["batch_id"].(string); !strings.HasPrefix(got, "20250102T030405Z-") {
		t.Errorf("batch_id = %q", got)
	}
	// The tombstone: a row with value and op null.
	tr := rows[1]
	if tr["value"] != nil || tr["op"] != nil || tr["ordering_key"] != nil {
		t.Errorf("tombstone row = value %v op %v ordering_key %v, want nulls", tr["value"], tr["op"], tr["ordering_key"])
	}
	if got := string(tr["key"].([]byte)); got != `{"id":7}` {
		t.Errorf("tombstone key = %q", got)
	}
}

func TestCrashBeforeCommitLeavesOrphansAndRerunIsExactlyOnce(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 2)
	produce(t, brokers, rec("srv.a.t", 0, "k", pgEvent("t", 1, 1, 1)))
	store := &failingStore{Store: memblob.New()}
	raw := lakelog.Open(store, lakelog.Options{MaxCommitAttempts: 2})
	dead := lakelog.Open(memblob.New(), lakelog.Options{})
	cfg := testConfig(brokers, `srv\..*`)
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, rec("srv.a.t", int32(i%2), "k", pgEvent("t", i, 10, uint64(10+i))))
	}
	produce(t, brokers, recs...)

	store.fail = true
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err == nil {
		t.Fatal("run with failing commits succeeded")
	}
	store.fail = false
	snap, err := raw.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for _, a := range snap.Files() {
		live[a.Path] = true
	}
	orphans := 0
	for obj, err := range store.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(obj.Key, ".parquet") && !live[obj.Key] {
			orphans++
		}
	}
	if orphans == 0 {
		t.Errorf("no orphan data file after the failed commit: the crash was not between write and commit")
	}
	if got := len(readTable(t, raw, RawSchema())); got != 1 {
		t.Fatalf("rows visible after the failed run = %d, want 1", got)
	}

	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	want := sortedConcat(expectPositions("srv.a.t", 0, 0, 11), expectPositions("srv.a.t", 1, 0, 10))
	if got := positions(t, readTable(t, raw, RawSchema())); !slices.Equal(got, want) {
		t.Fatalf("positions:\n got %v\nwant %v", got, want)
	}
}

func TestConcurrentRunsNeitherLoseNorDouble(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 4)
	raw, dead := newTables()
	cfg := testConfig(brokers, `srv\..*`)
	var want []string
	for round := 0; round < 3; round++ {
		var recs []*kgo.Record
		for i := 0; i < 200; i++ {
			recs = append(recs, rec("srv.a.t", int32(i%4), "k", pgEvent("t", i, uint64(round), uint64(i))))
		}
		produce(t, brokers, recs...)
		for p := int32(0); p < 4; p++ {
			want = append(want, expectPositions("srv.a.t", p, round*50, round*50+50)...)
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for w := range errs {
			wg.Go(func() { _, errs[w] = Run(ctx, cfg, raw, dead, testLogger(t)) })
		}
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Fatalf("round %d run %d: %v", round, w, err)
			}
		}
	}
	slices.Sort(want)
	if got := positions(t, readTable(t, raw, RawSchema())); !slices.Equal(got, want) {
		t.Fatalf("positions: got %d rows, want %d", len(got), len(want))
	}
}

func TestDeadLetters(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	bad := map[int64]string{
		1: `not json at all`,
		2: `{"before":null,"after":{"id":1},"source":{"connector":"postgresql"}}`, // no op
		3: `{"before":null,"after":{"id":1},"op":"x","source":{"connector":"postgresql","lsn":1}}`,
		4: "\xff\xfe\x00{[",
	}
	var recs []*kgo.Record
	for i := int64(0); i < 10; i++ {
		v := pgEvent("t", int(i), 1, uint64(i))
		if b, ok := bad[i]; ok {
			v = []byte(b)
		}
		recs = append(recs, rec("srv.a.t", 0, fmt.Sprint(i), v))
	}
	produce(t, brokers, recs...)

	// Ratio exceeded: the run fails and commits nothing.
	raw, dead := newTables()
	cfg := testConfig(brokers, `srv\..*`)
	cfg.MaxDeadLetterRatio = 0.2
	_, err := Run(ctx, cfg, raw, dead, testLogger(t))
	if !errors.Is(err, ErrDeadLetterRatio) {
		t.Fatalf("err = %v, want ErrDeadLetterRatio", err)
	}
	if got := len(readTable(t, raw, RawSchema())); got != 0 {
		t.Errorf("rows committed by the failed run: %d", got)
	}

	// Allowed: bad records land in the dead-letter table, the rest in raw.
	cfg.MaxDeadLetterRatio = 0.5
	rep, err := Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeadLetters != 4 || rep.Records != 6 {
		t.Errorf("report: dead letters %d records %d, want 4 and 6", rep.DeadLetters, rep.Records)
	}
	dls := readTable(t, dead, DeadLetterSchema())
	if len(dls) != 4 {
		t.Fatalf("dead letters = %d, want 4", len(dls))
	}
	for _, d := range dls {
		off := d["offset"].(int64)
		if string(d["value"].([]byte)) != bad[off] {
			t.Errorf("dead letter %d value = %q, want %q", off, d["value"], bad[off])
		}
		if msg, _ := d["error"].(string); msg == "" {
			t.Errorf("dead letter %d has no error", off)
		}
	}
	if got, want := positions(t, readTable(t, raw, RawSchema())), expectPositions("srv.a.t", 0, 0, 10); len(got) != 6 || slices.Contains(got, want[1]) {
		t.Errorf("raw positions = %v, want the 6 good ones", got)
	}
}

func TestDeadLettersNotRepeatedAfterCrashBeforeRawCommit(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	produce(t, brokers, rec("srv.a.t", 0, "a", pgEvent("t", 1, 1, 1)), rec("srv.a.t", 0, "b", []byte("garbage")), rec("srv.a.t", 0, "c", pgEvent("t", 2, 1, 2)))
	store := &failingStore{Store: memblob.New()}
	raw := lakelog.Open(store, lakelog.Options{MaxCommitAttempts: 2})
	dead := lakelog.Open(memblob.New(), lakelog.Options{})
	// Create the raw table, then fail its commits only.
	if _, err := openOrCreate(ctx, raw, "raw", rawSchema, rawProtocol, rawClustering); err != nil {
		t.Fatal(err)
	}
	store.fail = true
	cfg := testConfig(brokers, `srv\..*`)
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err == nil {
		t.Fatal("run with failing raw commits succeeded")
	}
	if got := len(readTable(t, dead, DeadLetterSchema())); got != 1 {
		t.Fatalf("dead letters after crash = %d, want 1 (committed before the raw commit)", got)
	}
	store.fail = false
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if got := len(readTable(t, dead, DeadLetterSchema())); got != 1 {
		t.Errorf("dead letters after rerun = %d, want 1", got)
	}
	if got := len(readTable(t, raw, RawSchema())); got != 2 {
		t.Errorf("raw rows = %d, want 2", got)
	}
}

func TestNoDeadLetterTableFailsOnBadRecord(t *testing.T) {
	brokers := newCluster(t, 1)
	produce(t, brokers, rec("srv.a.t", 0, "b", []byte("garbage")))
	raw, _ := newTables()
	_, err := Run(context.Background(), testConfig(brokers, `srv\..*`), raw, nil, testLogger(t))
	if !errors.Is(err, ErrDeadLetterRatio) || !strings.Contains(err.Error(), "srv.a.t partition 0 offset 0") {
		t.Fatalf("err = %v, want ErrDeadLetterRatio naming the record", err)
	}
}

func TestHeartbeatAndTransactionTopicsSkipped(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	produce(t, brokers,
		rec("__debezium-heartbeat.srv", 0, "", []byte(`{"ts_ms":1700000000000}`)),
		rec("srv.transaction", 0, "", []byte(`{"status":"BEGIN","id":"571","ts_ms":1,"event_count":null,"data_collections":null}`)),
		rec("srv.public.transaction", 0, "k", pgEvent("transaction", 1, 1, 1)),
	)
	raw, dead := newTables()
	cfg := testConfig(brokers, `.*srv.*`)
	rep, err := Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	topics := []string{}
	for name := range rep.Topics {
		topics = append(topics, name)
	}
	slices.Sort(topics)
	if want := []string{"srv.public.transaction"}; !slices.Equal(topics, want) {
		t.Errorf("topics = %v, want %v", topics, want)
	}

	cfg.IncludeHeartbeats = true
	raw2, dead2 := newTables()
	rep, err = Run(ctx, cfg, raw2, dead2, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeadLetters != 0 || len(rep.Topics) != 3 {
		t.Errorf("with heartbeats: topics %d dead letters %d, want 3 and 0", len(rep.Topics), rep.DeadLetters)
	}
}

func TestTopicRecreated(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, rec("srv.a.t", 0, "k", pgEvent("t", i, 1, uint64(i))))
	}
	produce(t, brokers, recs...)
	raw, dead := newTables()
	cfg := testConfig(brokers, `srv\..*`)
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	recreateTopic(t, brokers, "srv.a.t")
	produce(t, brokers, recs[:3]...)

	_, err := Run(ctx, cfg, raw, dead, testLogger(t))
	var reset *OffsetResetError
	if !errors.As(err, &reset) || reset.Topic != "srv.a.t" || reset.Committed != 9 || reset.End != 3 {
		t.Fatalf("err = %v, want *OffsetResetError for srv.a.t committed 9 end 3", err)
	}
	p, err := Plan(ctx, func() Config { c := cfg; c.OnOffsetReset = OffsetResetRestart; return c }(), raw, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Partitions) != 1 || p.Partitions[0].Start != 0 || p.Partitions[0].End != 3 || !p.Partitions[0].Reset {
		t.Fatalf("restart plan = %+v", p.Partitions)
	}
	cfg.OnOffsetReset = OffsetResetRestart
	rep, err := Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 {
		t.Errorf("records after restart = %d, want 3", rep.Records)
	}
	snap, _ := raw.Snapshot(ctx)
	if v, _ := snap.AppVersion("sluice-ingest|srv.a.t|0"); v != 2 {
		t.Errorf("txn version after restart = %d, want 2 (moved backwards)", v)
	}
}

// TestTopicRecreatedWithMoreRecords recreates a topic that then holds more
// records than were ingested from the old one: the recorded offset still
// fits the new partition, and only the recorded topic ID tells.
func TestTopicRecreatedWithMoreRecords(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, rec("srv.a.t", 0, "k", pgEvent("t", i, 1, uint64(i))))
	}
	produce(t, brokers, recs[:5]...)
	raw, dead := newTables()
	cfg := testConfig(brokers, `srv\..*`)
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	oldID := recreateTopic(t, brokers, "srv.a.t")
	produce(t, brokers, recs...) // 20 records: offset 4 (committed) + 1 fits

	_, err := Run(ctx, cfg, raw, dead, testLogger(t))
	var reset *OffsetResetError
	if !errors.As(err, &reset) || reset.Topic != "srv.a.t" || reset.Committed != 4 {
		t.Fatalf("err = %v, want *OffsetResetError for srv.a.t committed 4", err)
	}
	if want := oldID.String(); reset.RecordedTopicID != want || reset.TopicID == want || reset.TopicID == "" {
		t.Errorf("recorded topic ID %q, now %q; want the old topic's %q recorded and a new one now", reset.RecordedTopicID, reset.TopicID, want)
	}
	cfg.OnOffsetReset = OffsetResetRestart
	rep, err := Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 20 {
		t.Errorf("records after restart = %d, want all 20 of the new topic", rep.Records)
	}
	// The new ID is recorded: the next run has nothing to reset.
	cfg.OnOffsetReset = OffsetResetFail
	if rep, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil || rep.Records != 0 {
		t.Errorf("run after restart: %d records, err %v; want 0, nil", rep.Records, err)
	}
}

// recreateTopic deletes topic and creates it again with one partition; it
// returns the deleted topic's ID.
func recreateTopic(t *testing.T, brokers []string, topic string) kadm.TopicID {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	return details[topic].ID
}

func TestNewTopicsAndPartitionsPickedUp(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	produce(t, brokers, rec("srv.a.t", 0, "k", pgEvent("t", 1, 1, 1)))
	raw, dead := newTables()
	cfg := testConfig(brokers, `srv\..*`)
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreatePartitions(ctx, 1, "srv.a.t"); err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, rec("srv.a.t", 1, "k", pgEvent("t", 2, 2, 2)), rec("srv.b.u", 0, "k", pgEvent("u", 3, 3, 3)))
	rep, err := Run(ctx, cfg, raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 2 {
		t.Errorf("records = %d, want 2", rep.Records)
	}
	want := []string{"srv.a.t/0/0", "srv.a.t/1/0", "srv.b.u/0/0"}
	if got := positions(t, readTable(t, raw, RawSchema())); !slices.Equal(got, want) {
		t.Errorf("positions = %v, want %v", got, want)
	}
}

func TestPlanWritesNothingAndCapsRecords(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 2)
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, rec("srv.a.t", int32(i%2), "k", pgEvent("t", i, 1, uint64(i))))
	}
	produce(t, brokers, recs...)
	raw, _ := newTables()
	cfg := testConfig(brokers, `srv\..*`)
	cfg.MaxRecordsPerRun = 7
	p, err := Plan(ctx, cfg, raw, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.TableVersion != -1 || p.Pending() != 7 || len(p.Partitions) != 2 || p.Partitions[0].End != 5 || p.Partitions[1].End != 2 {
		t.Fatalf("plan = %+v", p)
	}
	if _, err := raw.Snapshot(ctx); !errors.Is(err, lakelog.ErrNoTable) {
		t.Errorf("Plan created the table: %v", err)
	}
}

func TestWorkerSplitIsAPartition(t *testing.T) {
	for _, n := range []int{2, 3, 5} {
		for p := int32(0); p < 64; p++ {
			owners := 0
			for w := 0; w < n; w++ {
				r, err := Config{Brokers: []string{"x"}, TopicRegex: ".*", Worker: w, Workers: n}.resolve()
				if err != nil {
					t.Fatal(err)
				}
				if r.ownsPartition("srv.a.t", p) {
					owners++
				}
			}
			if owners != 1 {
				t.Errorf("workers %d partition %d: %d owners, want 1", n, p, owners)
			}
		}
	}
}

func TestKafkaAuthNeverShowsPassword(t *testing.T) {
	a := KafkaAuth{SASLMechanism: "PLAIN", SASLUser: "u", SASLPassword: "hunter2"}
	for _, s := range []string{a.String(), fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password shown: %s", s)
		}
	}
}

// TestThousandTopicsTenEventsEach ingests 1,000 topics of 10 events in one
// run: every (topic, partition, offset) lands exactly once, and the quiet
// topics share files instead of making one file each.
func TestThousandTopicsTenEventsEach(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 topics: not in -short")
	}
	ctx := context.Background()
	brokers := newCluster(t, 1)
	const topics, each = 1000, 10
	var recs []*kgo.Record
	var want []string
	for tp := range topics {
		name := fmt.Sprintf("srv.public.t%04d", tp)
		for i := range each {
			recs = append(recs, rec(name, 0, fmt.Sprint(i), pgEvent(name, i, uint64(i), uint64(i))))
		}
		want = append(want, expectPositions(name, 0, 0, each)...)
	}
	produce(t, brokers, recs...)
	raw, dead := newTables()
	rep, err := Run(ctx, testConfig(brokers, `srv\..*`), raw, dead, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != topics*each || len(rep.Topics) != topics {
		t.Errorf("report: %d records in %d topics, want %d in %d", rep.Records, len(rep.Topics), topics*each, topics)
	}
	// 10,000 small rows (~4 MB) with a 1 MB target: a few packed files.
	if len(rep.Files) > 20 {
		t.Errorf("%d files for 1,000 quiet topics, want them packed into a few", len(rep.Files))
	}
	got := positions(t, readTable(t, raw, rawSchema))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %d positions, want %d (each once)", len(got), len(want))
	}
}
