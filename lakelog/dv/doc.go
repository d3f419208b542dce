// Package dv reads and writes Delta deletion vectors (PROTOCOL.md
// §Deletion Vectors, §Deletion Vector Format): the sets of row positions a
// logical file's deletion vector removes from its data file.
//
// A deletion vector is a sorted set of 0-based row positions within the
// Parquet file (the order rows are stored in, across row groups). It is
// serialized as the magic 1681511377 (uint32 little-endian) followed by a
// 64-bit RoaringBitmap in the "portable" layout: uint64 LE number of
// 32-bit buckets, then per bucket its high 32 bits (uint32 LE) and a
// standard portable 32-bit Roaring bitmap (array, bitmap and run
// containers). Stored outside the log, DVs live in files
// <prefix>/deletion_vector_<uuid>.bin that begin with a version byte (1);
// each DV in the file, at its descriptor's offset, is its size (uint32
// big-endian, the serialized DV's length), the serialized DV, and the
// CRC-32 (IEEE, big-endian) of the serialized DV. Inline DVs ("i") are the
// serialized DV in Z85 in the log.
//
// Reader reads DVs by descriptor (caching DV files per scan), FileWriter
// writes the DVs of one commit into one file, Inline makes an "i"
// descriptor, and ReadFile wraps datafile.ReadFile to skip deleted rows:
// every reader of a table that may have DVs (protocol feature
// deletionVectors) must read its data files through it or apply Reader's
// positions itself.
//
// Invariants:
//   - Decoding never panics and never allocates more positions than the
//     caller's limit (the descriptor's cardinality when reading a table),
//     so a corrupt or hostile file cannot exhaust memory.
//   - Encoding writes array and bitmap containers (no run containers); the
//     result is readable by Spark, delta-rs and delta-kernel (the portable
//     layout, checked against Spark-written files in the tests).
//   - A FileWriter's file is written once, with PutIfAbsent, under a fresh
//     random UUID, before the commit that names it: a crash leaves at most
//     an unreferenced file that Vacuum removes.
package dv
