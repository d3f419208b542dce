package capture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/schemas"
)

// movingSource is a Source like MySQL's: no durable state of its own, and
// a current position that moves on with every write (each call of
// StartPosition or Stream from "" sees a later one). Stream from "p<N>"
// sends the change with id N+1, then blocks.
type movingSource struct {
	current *atomic.Int64 // shared by every Source the test opens
	mu      *sync.Mutex
	from    *[]string    // every Stream's from, in order
	sent    *atomic.Bool // set once a batch is handed out
}

func (s *movingSource) StartPosition(context.Context) (string, error) {
	return fmt.Sprintf("p%d", s.current.Add(1)), nil
}

func (s *movingSource) Stream(ctx context.Context, from string, out chan<- Batch) error {
	s.mu.Lock()
	*s.from = append(*s.from, from)
	s.mu.Unlock()
	var n int64
	if from == "" {
		n = s.current.Add(1) // what a Source without StartPosition would do
	} else if _, err := fmt.Sscanf(from, "p%d", &n); err != nil {
		return err
	}
	select {
	case out <- Batch{Changes: []schemas.Change{testChange(n+1, uint64(n+1))}, Position: fmt.Sprintf("p%d", n+1)}:
		s.sent.Store(true)
	case <-ctx.Done():
		return nil
	}
	<-ctx.Done()
	return nil
}

func (s *movingSource) Ack(context.Context, string) error { return nil }
func (s *movingSource) Close() error                      { return nil }

// TestFailedFirstCommitResumesAtStart: the first transaction of a new
// MySQL/MariaDB capture fails. The restart must resume where the first
// run started, not at the then-current position: that skipped every change
// in between (found by TestFaultCaptureKafkaMariaDB: after a failed first
// EndTxn, "new capture starts at the current binlog position" logged a
// later position and the changes before it never reached Kafka).
func TestFailedFirstCommitResumesAtStart(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Fail the EndTxn of the first transaction that holds a change: the
	// first after a Stream handed out a batch (the start position is
	// stored before Stream starts).
	var sawChange, failed atomic.Bool
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError, TopLevel: true, Count: 1,
		When: func(kmsg.Request) bool { return sawChange.Load() && !failed.Swap(true) }})

	var current atomic.Int64
	var froms []string
	var mu sync.Mutex
	open := func(context.Context) (Source, error) {
		return &movingSource{current: &current, mu: &mu, from: &froms, sent: &sawChange}, nil
	}
	stats := &Stats{}
	cfg := Config{Kafka: KafkaConfig{Brokers: c.ListenAddrs()}, SourceName: "my", TopicPrefix: "p", AutoCreateTopics: true, Stats: stats}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunWithRestarts(ctx, open, cfg, 100*time.Millisecond, nil) }()

	// Wait until the change after the start position is committed.
	for {
		p, err := ReadPosition(ctx, cfg.Kafka, "p.sluice.positions", "my", nil)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("read position: %v", err)
		}
		if p == "p2" || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunWithRestarts: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if stats.Restarts.Load() == 0 {
		t.Fatal("the injected EndTxn failure did not restart capture")
	}
	// Start position p1 stored, change 2 failed, restart from p1, change
	// 2 committed. Without the stored start: "", "" (at p2: change 3).
	if want := []string{"p1", "p1"}; !slices.Equal(froms[:min(2, len(froms))], want) {
		t.Errorf("streams started from %q, want %q first", froms, want)
	}
}
