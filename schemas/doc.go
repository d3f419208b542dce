// Package schemas is sluice's shared vocabulary: the change event (Change), its
// source position and ordering key, column types, the Debezium envelope codec
// and the mapping from source/Connect types to Delta types.
//
// Files: change.go/column.go/source.go (vocabulary), envelope.go (decode:
// DecodeEnvelope, and the ingest fast path ParseHeader over scan.go's
// top-level-key scanner), encode.go (EncodeKey/EncodeValue, Debezium's exact
// JSON), typemap.go (DeltaTypeOf, ToDeltaValue, DecodeValue, InferColumn),
// diff.go (Evolve, CanWiden), raw.go (the raw table contract as data).
//
// Invariants:
//   - schemas imports nothing from sluice and nothing outside the standard
//     library; every other package may import it.
//   - An ordering key is a string that sorts (bytewise) in the order the source
//     committed the changes; two encodings of the same source position are
//     byte-identical, so a replayed event carries the same key as the original.
//     PostgreSQL: (sequence[0] = previous commit's LSN, lsn); MySQL/MariaDB:
//     (binlog file sequence, pos, row). See Source.CommitLSN.
//   - Capture encodes and ingest/merge decode through this package only, so
//     what sluice's capture writes and what real Debezium writes decode alike.
//   - Encoding is deterministic; decoding never guesses: an unavailable value
//     (TOAST placeholder, or a schema field the row lacks) is reported as such,
//     and numbers are converted exactly or rejected with an error naming the
//     column.
package schemas
