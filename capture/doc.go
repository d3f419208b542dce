// Package capture moves committed source changes into Kafka as
// Debezium-compatible events, one topic per table, exactly once.
//
// A Source (capture/postgres, capture/mysql) streams Batches that end at
// source transaction boundaries, each carrying the source Position after it.
// Run writes the events of one or more batches and the last Position to
// Kafka in ONE Kafka transaction: the events go to <prefix>.<schema>.<table>
// keyed by the primary key (so one key stays in one partition, in source
// order), the Position to the compacted topic <prefix>.sluice.positions keyed
// by the source name.
//
// Invariants:
//   - The position in the positions topic (read with read_committed) covers
//     exactly the events committed with it. On start Run resumes the Source
//     strictly after it; a crash anywhere loses nothing and, for
//     read_committed consumers, doubles nothing.
//   - A new capture of a Source with no durable state of its own
//     (StartPositioner: MySQL/MariaDB) stores its start position before it
//     streams, so a first transaction that fails resumes there; resuming
//     at a later "current" position would skip the changes in between.
//   - Source.Ack(pos) is called only after the transaction holding pos has
//     committed, so the source never releases (PostgreSQL: confirms to the
//     slot) changes Kafka does not durably hold.
//   - Records are deterministic functions of the source changes (timestamps
//     are commit times, not wall clock): with Config.AtLeastOnce a replay
//     after a crash is byte-identical to the original, and consumers that
//     order by the event's ordering key are unaffected by the duplicates.
//   - Only capture, ingest and jobs import franz-go; the Source
//     implementations do not.
package capture
