// Package schemas is sluice's shared vocabulary: the change event (Change), its
// source position and ordering key, column types, the Debezium envelope codec
// and the mapping from source/Connect types to Delta types.
//
// Invariants:
//   - schemas imports nothing from sluice; every other package may import it.
//   - An ordering key is a string that sorts (bytewise) in the order the source
//     committed the changes; two encodings of the same source position are
//     byte-identical, so a replayed event carries the same key as the original.
//   - Capture encodes and ingest/merge decode through this package only, so
//     what sluice's capture writes and what real Debezium writes decode alike.
package schemas
