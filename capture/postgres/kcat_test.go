package postgres

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestKcatReadsCaptureTopics: kcat (librdkafka, a client we did not write)
// reads the topics capture wrote inside Kafka transactions, with
// read_committed, and sees exactly the records franz-go sees: same
// partitions, offsets, keys and values, each value a Debezium envelope.
// This checks the transactional batches and control records capture
// produces are well-formed for a third-party consumer.
func TestKcatReadsCaptureTopics(t *testing.T) {
	brokers := testenv.Kafka(t)
	kcat := testenv.Kcat(t)
	dsn := testDB(t)
	execSQL(t, dsn, `CREATE TABLE k (id int PRIMARY KEY, v text, n numeric(8,2))`)
	prefix := testenv.UniqueName("kcat")
	slot := testSlot("s_kcat")
	pgCfg := Config{DSN: dsn, SlotName: slot, Publication: "p_kcat", Tables: []string{"public.k"}, TopicPrefix: prefix}
	stats := &capture.Stats{}
	kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix, AutoCreateTopics: true, Stats: stats}
	stop := runCapture(t, pgCfg, kcfg)
	waitSlot(t, dsn, slot)
	execSQL(t, dsn,
		`INSERT INTO k SELECT i, 'v' || i, i * 1.25 FROM generate_series(1, 30) i`,
		`BEGIN; UPDATE k SET v = 'changed' WHERE id <= 5; DELETE FROM k WHERE id = 30; COMMIT`,
		`INSERT INTO k VALUES (31, 'ünïcode ✓', NULL)`,
	)
	const want = 30 + 5 + 1 + 1
	topic := prefix + ".public.k"
	events := consume(t, brokers, want, topic)
	stop()

	// The stats count what Kafka committed: 37 events in 3 source
	// transactions; the slot's retained WAL was read (PostgreSQL can tell).
	if got := stats.Events.Load(); got != want {
		t.Errorf("Stats.Events = %d, want %d", got, want)
	}
	if got := stats.SourceTransactions.Load(); got != 3 {
		t.Errorf("Stats.SourceTransactions = %d, want 3", got)
	}
	if got := stats.SourceLagBytes.Load(); got < 0 {
		t.Errorf("Stats.SourceLagBytes = %d, want >= 0", got)
	}
	if p := stats.LastPosition.Load(); p == nil || *p == "" {
		t.Errorf("Stats.LastPosition not set")
	}
	if ms := stats.LastCommitUnixMs.Load(); time.Since(time.UnixMilli(ms)) > 10*time.Minute {
		t.Errorf("Stats.LastCommitUnixMs = %d, not a recent commit time", ms)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(brokers, ","), "-t", topic,
		"-X", "isolation.level=read_committed", "-o", "beginning", "-e", "-q", "-J")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, stderr.String())
	}
	type kcatRecord struct {
		Partition int32   `json:"partition"`
		Offset    int64   `json:"offset"`
		Key       *string `json:"key"`
		Payload   *string `json:"payload"`
	}
	var got []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r kcatRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Text(), err)
		}
		if r.Key == nil || r.Payload == nil {
			t.Errorf("kcat record %d/%d has a null key or value", r.Partition, r.Offset)
			continue
		}
		var env struct {
			Op     string         `json:"op"`
			Source map[string]any `json:"source"`
		}
		if err := json.Unmarshal([]byte(*r.Payload), &env); err != nil || env.Op == "" || env.Source["lsn"] == nil {
			t.Errorf("kcat record %d/%d is not a Debezium envelope (%v): %s", r.Partition, r.Offset, err, *r.Payload)
		}
		var key map[string]any
		if err := json.Unmarshal([]byte(*r.Key), &key); err != nil {
			t.Errorf("kcat record %d/%d key %q: %v", r.Partition, r.Offset, *r.Key, err)
		}
		got = append(got, fmt.Sprintf("%d/%d %v %s", r.Partition, r.Offset, key["id"], env.Op))
	}
	var fromFranz []string
	for _, e := range events {
		fromFranz = append(fromFranz, fmt.Sprintf("%d/%d %v %s", e.Partition, e.Offset, e.Key["id"], e.Op))
	}
	slices.Sort(got)
	slices.Sort(fromFranz)
	if len(got) != want {
		t.Errorf("kcat read %d records, want %d", len(got), want)
	}
	if !slices.Equal(got, fromFranz) {
		t.Errorf("kcat and franz-go disagree:\nkcat  %q\nfranz %q", got, fromFranz)
	}
}
