package capture

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestReadPosition reads positions from the harness's Kafka: a missing
// topic is "" and stays missing; a stored position is read back, per
// source.
func TestReadPosition(t *testing.T) {
	brokers := testenv.Kafka(t)
	kc := KafkaConfig{Brokers: brokers}
	topic := testenv.UniqueName("positions")
	ctx := context.Background()

	got, err := ReadPosition(ctx, kc, topic, "src1", nil)
	if err != nil || got != "" {
		t.Fatalf("ReadPosition of a missing topic = %q, %v; want \"\", nil", got, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has(topic) {
		t.Fatalf("ReadPosition created topic %s", topic)
	}

	prefix := testenv.UniqueName("p")
	write := func(source, pos string) {
		t.Helper()
		p, err := NewProducer(ctx, Config{Kafka: kc, SourceName: source, TopicPrefix: prefix, PositionsTopic: topic, AutoCreateTopics: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Write(ctx, []Batch{{Changes: []schemas.Change{testChange(1, 10)}, Position: pos}}); err != nil {
			t.Fatal(err)
		}
	}
	write("src1", "0/10")
	write("src1", "0/20")
	write("src2", "0/90")
	for source, want := range map[string]string{"src1": "0/20", "src2": "0/90", "src3": ""} {
		if got, err := ReadPosition(ctx, kc, topic, source, nil); err != nil || got != want {
			t.Errorf("ReadPosition(%s) = %q, %v; want %q", source, got, err, want)
		}
	}
}

// TestFirstStartReadsEmptyPosition: the first start of a source creates
// its positions topic and reads it at once. The existence check before the
// creation must not leave a cached "unknown topic" that fails that read
// (found in CI: "end offsets of …positions: UNKNOWN_TOPIC_OR_PARTITION").
func TestFirstStartReadsEmptyPosition(t *testing.T) {
	kc := KafkaConfig{Brokers: testenv.Kafka(t)}
	ctx := context.Background()
	for i := range 3 {
		topic := testenv.UniqueName("positions")
		p, err := NewProducer(ctx, Config{Kafka: kc, SourceName: "src", TopicPrefix: testenv.UniqueName("p"), PositionsTopic: topic, AutoCreateTopics: true}, nil)
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		got, err := p.LastPosition(ctx)
		p.Close()
		if err != nil || got != "" {
			t.Fatalf("start %d: LastPosition on a new topic = %q, %v; want \"\", nil", i, got, err)
		}
	}
}
