package capture

import (
	"context"

	"github.com/sluicehq/sluice/schemas"
)

// Batch is a run of changes that ends at a source transaction boundary.
// Position is the source's own encoding of "everything up to and including
// this batch"; resuming a Source from it yields exactly the changes after
// the batch.
//
// A source transaction too large to hold in memory arrives as several
// batches: every one but the last has Partial set and an empty Position.
// Run writes them into one Kafka transaction that commits only with the
// last, so consumers still see the source transaction whole or not at all,
// while memory holds one part at a time.
type Batch struct {
	Changes  []schemas.Change
	Position string
	// CommitTsMs is the source commit time of the batch's last transaction.
	CommitTsMs int64
	// Partial means more changes of the same source transaction follow in
	// the next batch; Position is empty and must not be acknowledged.
	Partial bool
}

// Source streams the committed changes of one database. Implementations:
// capture/postgres (pgoutput) and capture/mysql (binlog).
type Source interface {
	// Stream sends batches to out, in source commit order, until ctx is
	// cancelled or an error occurs. It resumes strictly after from; from == ""
	// means "where the source's durable state says" (the slot's confirmed
	// position, or the current binlog position for a new MySQL capture).
	// If from is no longer available on the server (binlog purged, slot
	// dropped) it returns an error wrapping ErrPositionLost. Stream is called
	// at most once per Source and closes nothing it did not open.
	Stream(ctx context.Context, from string, out chan<- Batch) error

	// Ack records that every change up to pos is durable in Kafka, letting
	// the source release what it retains for them (PostgreSQL advances the
	// slot's confirmed_flush_lsn). Idempotent; pos never moves backwards;
	// safe to call concurrently with Stream.
	Ack(ctx context.Context, pos string) error

	// Close releases connections. Idempotent.
	Close() error
}

// StartPositioner is implemented by a Source that keeps no durable state
// of its own for a new capture (MySQL/MariaDB: the server remembers
// nothing per replica, so "from == ”" means "the current binlog
// position", which moves on with every write). Run stores that position
// in Kafka before it streams: a capture whose first transaction fails
// then resumes where it first started instead of at a later current
// position, which would skip the changes in between.
type StartPositioner interface {
	Source
	// StartPosition returns the position a new capture starts after: the
	// source's current position, in the encoding of Batch.Position. It
	// only reads; safe to call before Stream, not concurrently with it.
	StartPosition(ctx context.Context) (string, error)
}
