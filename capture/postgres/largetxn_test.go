package postgres

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestLargeTransactionInParts: a source transaction larger than
// MaxTxnChanges reaches Kafka in parts, all in one Kafka transaction, so a
// read_committed consumer sees every change once and in order, and a
// restart resumes after it without repeating any of it. A transaction of
// exactly two parts checks that an empty last part still commits them.
func TestLargeTransactionInParts(t *testing.T) {
	brokers := testenv.Kafka(t)
	dsn := testDB(t)
	execSQL(t, dsn, `CREATE TABLE big (id int PRIMARY KEY, v text)`)
	prefix := testenv.UniqueName("large")
	slot := testSlot("s_large")
	pgCfg := Config{DSN: dsn, SlotName: slot, Publication: "p_large", Tables: []string{"public.big"},
		TopicPrefix: prefix, MaxTxnChanges: 100}
	stats := &capture.Stats{}
	kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix,
		AutoCreateTopics: true, Stats: stats}
	stop := runCapture(t, pgCfg, kcfg)
	waitSlot(t, dsn, slot)
	execSQL(t, dsn,
		`INSERT INTO big SELECT i, 'v' || i FROM generate_series(1, 1050) i`, // 11 parts
		`UPDATE big SET v = 'u' WHERE id <= 200`,                             // 2 full parts, empty last
		`INSERT INTO big VALUES (5000, 'small')`,
	)
	topic := prefix + ".public.big"
	events := consume(t, brokers, 1251, topic)
	stop()
	if len(events) != 1251 {
		t.Fatalf("got %d events, want 1251", len(events))
	}
	perKey := byKey(events)
	for id := 1; id <= 1050; id++ {
		es := perKey[fmt.Sprint(topic, "/", float64(id))]
		want := []string{"c"}
		if id <= 200 {
			want = []string{"c", "u"}
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Op)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("id %d: ops %v, want %v", id, got, want)
		}
	}
	if got := stats.SourceTransactions.Load(); got != 3 {
		t.Errorf("Stats.SourceTransactions = %d, want 3", got)
	}
	// 1050 changes: 10 parts of 100 then a last part of 50; 200 changes:
	// 2 parts then an empty last part.
	if got := stats.PartialBatches.Load(); got != 12 {
		t.Errorf("Stats.PartialBatches = %d, want 12", got)
	}
	if got := stats.Events.Load(); got != 1251 {
		t.Errorf("Stats.Events = %d, want 1251", got)
	}

	// Restart: nothing of the committed transactions comes again.
	runCapture(t, pgCfg, kcfg)
	execSQL(t, dsn, `INSERT INTO big VALUES (5001, 'after restart')`)
	events = consume(t, brokers, 1252, topic)
	if len(events) != 1252 {
		t.Errorf("after restart: %d events, want 1252 (none repeated)", len(events))
	}
}
