package capture

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/schemas"
)

func testChange(id int64, lsn uint64) schemas.Change {
	return schemas.Change{
		Table:   schemas.TableID{Database: "db", Schema: "public", Table: "t"},
		Op:      schemas.OpCreate,
		Columns: []schemas.Column{{Name: "id", Type: schemas.Int64}},
		Key:     []string{"id"},
		After:   []any{id},
		Source: schemas.Source{Connector: schemas.ConnectorPostgres, Name: "p", DB: "db", Schema: "public", Table: "t",
			LSN: lsn, CommitLSN: lsn, TsMs: 1700000000000},
		TsMs: 1700000000000,
	}
}

// TestProducerPositions checks that the position stored with a committed
// transaction is what the next producer (same source) reads back, and that
// a failed transaction (cancelled mid-write) leaves it unchanged.
func TestProducerPositions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := Config{Kafka: KafkaConfig{Brokers: c.ListenAddrs()}, SourceName: "src1", TopicPrefix: "p", AutoCreateTopics: true}
	ctx := context.Background()

	p, err := NewProducer(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.LastPosition(ctx); err != nil || got != "" {
		t.Fatalf("LastPosition on empty topic = %q, %v; want \"\"", got, err)
	}
	b1 := Batch{Changes: []schemas.Change{testChange(1, 10)}, Position: "0/10"}
	b2 := Batch{Changes: []schemas.Change{testChange(2, 20), testChange(3, 21)}, Position: "0/20"}
	if err := p.Write(ctx, []Batch{b1}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, []Batch{b2}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Write(cctx, []Batch{{Changes: []schemas.Change{testChange(4, 30)}, Position: "0/30"}}); err == nil {
		t.Error("Write with a cancelled context succeeded")
	}
	p.Close()

	// Another source's positions do not interfere.
	other := cfg
	other.SourceName = "src2"
	p2, err := NewProducer(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Write(ctx, []Batch{{Changes: []schemas.Change{testChange(9, 90)}, Position: "0/90"}}); err != nil {
		t.Fatal(err)
	}
	p2.Close()

	p3, err := NewProducer(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close()
	if got, err := p3.LastPosition(ctx); err != nil || got != "0/20" {
		t.Fatalf("LastPosition = %q, %v; want 0/20", got, err)
	}
}

func TestConfigDefaults(t *testing.T) {
	if _, err := (Config{TopicPrefix: "p"}).withDefaults(); err == nil {
		t.Error("empty SourceName accepted")
	}
	c, err := Config{SourceName: "s", TopicPrefix: "p"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.PositionsTopic != "p.sluice.positions" || c.TransactionalID != "sluice-capture-s" {
		t.Errorf("defaults = %q, %q", c.PositionsTopic, c.TransactionalID)
	}
	if _, err := (KafkaConfig{Brokers: []string{"x"}, SASLMechanism: "GSSAPI"}).clientOpts(nil); err == nil {
		t.Error("unknown SASL mechanism accepted")
	}
}
