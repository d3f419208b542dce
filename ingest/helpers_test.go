package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

// newCluster starts an in-process kfake cluster whose auto-created topics
// have the given number of partitions.
func newCluster(t testing.TB, partitions int) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// produce writes records synchronously; a record without Partition set
// goes to partition by key hash; set Partition with a manual partitioner.
func produce(t testing.TB, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// pgEvent is a hand-written Debezium PostgreSQL insert envelope (bare form)
// for row id of table public.<table>, committed at commitLSN/lsn.
func pgEvent(table string, id int, commitLSN, lsn uint64) []byte {
	return fmt.Appendf(nil, `{"before":null,"after":{"id":%d,"name":"n%d"},"source":{"version":"2.7.1.Final","connector":"postgresql","name":"srv","ts_ms":1700000000000,"snapshot":"false","db":"shop","sequence":"[\"%d\",\"%d\"]","schema":"public","table":"%s","txId":777,"lsn":%d,"xmin":null},"op":"c","ts_ms":1700000000123,"transaction":null}`,
		id, id, commitLSN, lsn, table, lsn)
}

func rec(topic string, partition int32, key string, value []byte) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: partition, Value: value}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

func testConfig(brokers []string, regex string) Config {
	return Config{
		Brokers:            brokers,
		TopicRegex:         regex,
		MaxDeadLetterRatio: 1,
		ReadTimeout:        20 * time.Second,
		TargetFileBytes:    1 << 20,
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newTables() (raw, dead *lakelog.Table) {
	return lakelog.Open(memblob.New(), lakelog.Options{}), lakelog.Open(memblob.New(), lakelog.Options{})
}

// rawRow is a row read back from a table's data files.
type rawRow map[string]any

func (r rawRow) pos() string {
	return fmt.Sprintf("%s/%d/%d", r["topic"], r["partition"], r["offset"])
}

// readTable reads every row of the table's live files with
// datafile.ReadFile, by the given schema, in file then row order.
func readTable(t testing.TB, table *lakelog.Table, schema *lakelog.StructType) []rawRow {
	t.Helper()
	ctx := context.Background()
	snap, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var out []rawRow
	for _, add := range snap.Files() {
		rows, err := datafile.ReadFile(ctx, table.Store(), add, schema)
		if err != nil {
			t.Fatalf("read %s: %v", add.Path, err)
		}
		for {
			vals, ok := rows.Next()
			if !ok {
				break
			}
			r := rawRow{}
			for i, f := range schema.Fields {
				r[f.Name] = vals[i]
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("read %s: %v", add.Path, err)
		}
	}
	return out
}

// positions returns the sorted "topic/partition/offset" of rows and fails
// the test on a duplicate.
func positions(t testing.TB, rows []rawRow) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		p := r.pos()
		if seen[p] {
			t.Errorf("row %s written twice", p)
		}
		seen[p] = true
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// expectPositions builds the sorted positions topic/partition/[from, to).
func expectPositions(topic string, partition int32, from, to int) []string {
	var out []string
	for o := from; o < to; o++ {
		out = append(out, fmt.Sprintf("%s/%d/%d", topic, partition, o))
	}
	return out
}

func sortedConcat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return out
}

// failingStore fails PutIfAbsent of log entries while fail is set: the
// crash between writing data files and committing.
type failingStore struct {
	blob.Store
	fail bool
}

func (s *failingStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if s.fail && strings.HasPrefix(key, "_delta_log/") {
		return fmt.Errorf("injected crash before commit of %s", key)
	}
	return s.Store.PutIfAbsent(ctx, key, data)
}
