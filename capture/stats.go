package capture

import (
	"context"
	"sync/atomic"
	"time"
)

// Stats counts what a capture did, for metrics and status. Run and
// RunWithRestarts update it when Config.Stats points to one; readers may
// load its fields from any goroutine at any time (every field is atomic).
// Counts cover only Kafka-committed work: a transaction that aborted is not
// counted, so the figures never run ahead of what consumers can read.
type Stats struct {
	// Events is the number of change events committed to Kafka.
	Events atomic.Int64
	// SourceTransactions is the number of source transactions committed to
	// Kafka that carried changes. Heartbeat batches (no changes, only a
	// newer position) are not counted; a large transaction that came in
	// several Partial batches counts once.
	SourceTransactions atomic.Int64
	// KafkaTransactions is the number of Kafka transactions committed (one
	// holds one or more source transactions and the position after them).
	KafkaTransactions atomic.Int64
	// LastCommitUnixMs is the source commit time of the newest change
	// committed to Kafka (0 before the first); now minus it is the
	// capture's lag behind the source while changes flow.
	LastCommitUnixMs atomic.Int64
	// LastKafkaCommitUnixMs is the wall-clock time of the last Kafka
	// commit (0 before the first).
	LastKafkaCommitUnixMs atomic.Int64
	// PartialBatches counts the parts of large source transactions
	// produced before their last part (see Batch.Partial).
	PartialBatches atomic.Int64
	// Restarts counts how often RunWithRestarts restarted a failed Run.
	Restarts atomic.Int64
	// SourceLagBytes is what the source retains for this capture and has
	// not yet been acknowledged (PostgreSQL: WAL bytes the slot holds back),
	// refreshed every LagInterval; -1 when the source cannot tell.
	SourceLagBytes atomic.Int64
	// LastPosition is the source position of the last Kafka commit.
	LastPosition atomic.Pointer[string]
}

// LagInterval is how often Run refreshes Stats.SourceLagBytes.
const LagInterval = 15 * time.Second

// LagReporter is implemented by sources that can say how much they retain
// for the capture (capture/postgres: the slot's retained WAL). It is called
// from Run's goroutine only, between Kafka transactions.
type LagReporter interface {
	SlotLag(ctx context.Context) (int64, error)
}

// committed records one committed Kafka transaction of group. events is
// every change in it, which includes the earlier Partial parts of the last
// source transaction when Run produced it in parts (group then holds only
// its last part).
func (s *Stats) committed(group []Batch, events int, now time.Time) {
	if s == nil || len(group) == 0 {
		return
	}
	s.Events.Add(int64(events))
	s.SourceTransactions.Add(int64(sourceTransactions(group, events)))
	s.KafkaTransactions.Add(1)
	s.LastKafkaCommitUnixMs.Store(now.UnixMilli())
	var newest int64
	for _, b := range group {
		newest = max(newest, b.CommitTsMs)
		for i := range b.Changes {
			newest = max(newest, b.Changes[i].Source.TsMs)
		}
	}
	if newest > s.LastCommitUnixMs.Load() {
		s.LastCommitUnixMs.Store(newest)
	}
	pos := group[len(group)-1].Position
	s.LastPosition.Store(&pos)
}

// sourceTransactions counts the source transactions of group that carried
// changes: heartbeat batches (no changes) are not transactions anyone
// wrote. A last part with no changes of its own still completes a
// transaction whose earlier Partial parts carried them (events exceeds the
// changes group holds).
func sourceTransactions(group []Batch, events int) int {
	txns, inGroup := 0, 0
	for _, b := range group {
		if len(b.Changes) > 0 {
			txns++
		}
		inGroup += len(b.Changes)
	}
	if events > inGroup && len(group[len(group)-1].Changes) == 0 {
		txns++
	}
	return txns
}

// refreshLag stores the source's retained bytes, or -1 when it cannot say.
func (s *Stats) refreshLag(ctx context.Context, src Source) {
	if s == nil {
		return
	}
	lr, ok := src.(LagReporter)
	if !ok {
		s.SourceLagBytes.Store(-1)
		return
	}
	lag, err := lr.SlotLag(ctx)
	if err != nil {
		return // keep the last value; the next tick retries
	}
	s.SourceLagBytes.Store(lag)
}
