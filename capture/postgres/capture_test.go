package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/tests/testenv"
)

// event is a Kafka record decoded with encoding/json, independently of the
// schemas codec.
type event struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       map[string]any
	Op        string
	Before    map[string]any
	After     map[string]any
	Source    map[string]any
}

// runCapture runs capture.Run against PostgreSQL and Kafka in the
// background; the returned stop cancels it and waits.
func runCapture(t *testing.T, pgCfg Config, kcfg capture.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	src, err := New(ctx, pgCfg, testLogger(t))
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- capture.Run(ctx, src, kcfg, testLogger(t)) }()
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

// consume reads topics with read_committed until at least want data
// records arrived and every partition was read up to its stable offset.
func consume(t *testing.T, brokers []string, want int, topics ...string) []event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out []event
	next := map[string]map[int32]int64{}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if next[r.Topic] == nil {
				next[r.Topic] = map[int32]int64{}
			}
			next[r.Topic][r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			out = append(out, decodeEvent(t, r))
		})
		if len(out) < want {
			continue
		}
		ends, err := adm.ListCommittedOffsets(ctx, topics...)
		if err != nil {
			t.Fatal(err)
		}
		caughtUp := true
		ends.Each(func(o kadm.ListedOffset) {
			if o.Offset > 0 && next[o.Topic][o.Partition] < o.Offset {
				caughtUp = false
			}
		})
		if caughtUp {
			return out
		}
	}
}

func decodeEvent(t *testing.T, r *kgo.Record) event {
	t.Helper()
	e := event{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
	if r.Key != nil {
		if err := json.Unmarshal(r.Key, &e.Key); err != nil {
			t.Fatalf("key %s: %v", r.Key, err)
		}
	}
	var v struct {
		Op     string         `json:"op"`
		Before map[string]any `json:"before"`
		After  map[string]any `json:"after"`
		Source map[string]any `json:"source"`
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		t.Fatalf("value %s: %v", r.Value, err)
	}
	e.Op, e.Before, e.After, e.Source = v.Op, v.Before, v.After, v.Source
	return e
}

// byKey groups events by their key's "id", in the order consumed (one key
// lives in one partition, so this is the produced order).
func byKey(events []event) map[string][]event {
	m := map[string][]event{}
	for _, e := range events {
		k := fmt.Sprint(e.Topic, "/", e.Key["id"])
		m[k] = append(m[k], e)
	}
	return m
}

// sequenceKey is Debezium's source.sequence ["<commit lsn>","<lsn>"] as
// zero-padded numbers, comparable as strings.
func sequenceKey(t *testing.T, e event) string {
	t.Helper()
	var seq []*string
	s, _ := e.Source["sequence"].(string)
	if err := json.Unmarshal([]byte(s), &seq); err != nil || len(seq) != 2 || seq[1] == nil {
		t.Fatalf("source.sequence %q: %v", s, err)
	}
	first := "0"
	if seq[0] != nil {
		first = *seq[0]
	}
	return fmt.Sprintf("%020s/%020s", first, *seq[1])
}

func TestCaptureToKafka(t *testing.T) {
	brokers := testenv.Kafka(t)
	dsn := testDB(t)
	execSQL(t, dsn,
		`CREATE TABLE t1 (id int PRIMARY KEY, v text, big text, n int)`,
		`CREATE TABLE t2 (id int PRIMARY KEY, v text)`,
		`ALTER TABLE t2 REPLICA IDENTITY FULL`,
	)
	prefix := testenv.UniqueName("pfx")
	slot := testSlot("s_e2e")
	pgCfg := Config{DSN: dsn, SlotName: slot, Publication: "p_e2e", Tables: []string{"public.t1", "public.t2"}, TopicPrefix: prefix}
	kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix, AutoCreateTopics: true}
	stop := runCapture(t, pgCfg, kcfg)
	waitSlot(t, dsn, slot)

	bigSQL := `(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 1000) i)`
	execSQL(t, dsn,
		`INSERT INTO t1 VALUES (1, 'a', NULL, NULL)`,
		`BEGIN; INSERT INTO t1 VALUES (2, 'b', NULL, 2); INSERT INTO t1 VALUES (3, 'c', NULL, 3); COMMIT`,
		`UPDATE t1 SET v = 'a2' WHERE id = 1`,
		`UPDATE t1 SET id = 10 WHERE id = 2`,
		`DELETE FROM t1 WHERE id = 3`,
		`INSERT INTO t1 VALUES (4, 'x', `+bigSQL+`, 4)`,
		`UPDATE t1 SET v = 'y' WHERE id = 4`,
		`INSERT INTO t1 VALUES (5, NULL, NULL, NULL)`,
		`ALTER TABLE t1 ADD COLUMN extra int`,
		`INSERT INTO t1 VALUES (6, 'f', NULL, NULL, 42)`,
		`INSERT INTO t2 VALUES (1, 'p')`,
		`UPDATE t2 SET v = 'q' WHERE id = 1`,
		`DELETE FROM t2 WHERE id = 1`,
	)
	events := consume(t, brokers, 14, prefix+".public.t1", prefix+".public.t2")
	stop()

	type want struct {
		op     string
		before map[string]any
		after  map[string]any
	}
	f := func(v float64) any { return v }
	null := any(nil)
	wants := map[string][]want{
		prefix + ".public.t1/1": {
			{"c", nil, map[string]any{"id": f(1), "v": "a", "big": null, "n": null}},
			{"u", nil, map[string]any{"id": f(1), "v": "a2", "big": null, "n": null}},
		},
		prefix + ".public.t1/2": {
			{"c", nil, map[string]any{"id": f(2), "v": "b", "big": null, "n": f(2)}},
			{"d", map[string]any{"id": f(2), "v": null, "big": null, "n": null}, nil},
		},
		prefix + ".public.t1/10": {{"c", nil, map[string]any{"id": f(10), "v": "b", "big": null, "n": f(2)}}},
		prefix + ".public.t1/3": {
			{"c", nil, map[string]any{"id": f(3), "v": "c", "big": null, "n": f(3)}},
			{"d", map[string]any{"id": f(3), "v": null, "big": null, "n": null}, nil},
		},
		prefix + ".public.t1/4": {
			{"c", nil, nil}, // big value checked below
			{"u", nil, map[string]any{"id": f(4), "v": "y", "big": "__debezium_unavailable_value", "n": f(4)}},
		},
		prefix + ".public.t1/5": {{"c", nil, map[string]any{"id": f(5), "v": null, "big": null, "n": null}}},
		prefix + ".public.t1/6": {{"c", nil, map[string]any{"id": f(6), "v": "f", "big": null, "n": null, "extra": f(42)}}},
		prefix + ".public.t2/1": {
			{"c", nil, map[string]any{"id": f(1), "v": "p"}},
			{"u", map[string]any{"id": f(1), "v": "p"}, map[string]any{"id": f(1), "v": "q"}},
			{"d", map[string]any{"id": f(1), "v": "q"}, nil},
		},
	}
	got := byKey(events)
	if len(events) != 14 {
		t.Errorf("got %d events, want 14", len(events))
	}
	for k, ws := range wants {
		es := got[k]
		if len(es) != len(ws) {
			t.Errorf("%s: got %d events, want %d: %+v", k, len(es), len(ws), es)
			continue
		}
		prev := ""
		for i, w := range ws {
			e := es[i]
			if e.Op != w.op {
				t.Errorf("%s[%d]: op %s, want %s", k, i, e.Op, w.op)
			}
			if w.after != nil && !reflect.DeepEqual(e.After, w.after) {
				t.Errorf("%s[%d]: after %v, want %v", k, i, e.After, w.after)
			}
			if w.op != "c" && !reflect.DeepEqual(e.Before, w.before) {
				t.Errorf("%s[%d]: before %v, want %v", k, i, e.Before, w.before)
			}
			if sk := sequenceKey(t, e); sk <= prev {
				t.Errorf("%s[%d]: sequence %s not after %s", k, i, sk, prev)
			} else {
				prev = sk
			}
		}
	}
	// The TOAST-sized value arrives whole on insert.
	var bigLen int
	if es := got[prefix+".public.t1/4"]; len(es) > 0 {
		s, _ := es[0].After["big"].(string)
		bigLen = len(s)
	}
	if bigLen != 32000 {
		t.Errorf("big value on insert has %d characters, want 32000", bigLen)
	}
}
