// Package workload generates seeded, reproducible write workloads for the
// end-to-end suites: it creates tables covering the common column types of
// PostgreSQL or MariaDB and applies random inserts, updates (some leaving a
// large TOAST-sized column untouched), primary-key changes, deletes,
// re-inserts of deleted keys and multi-statement transactions.
//
// Invariants:
//   - The same Dialect, seed and call sequence produce the same SQL text,
//     statement for statement, so a failure is replayed from its seed.
//   - The generator remembers only which keys exist (to aim updates and
//     deletes at live rows); it never predicts row contents. The source
//     database is the expected state the lake is compared against.
//   - Values stay inside what both the source and Debezium's type mapping
//     represent exactly (no NaN, infinities, BC dates or negative MySQL
//     times), so a mismatch is a pipeline bug, not a generator artefact.
//   - Generated text keys are lowercase ASCII, so MariaDB's case- and
//     pad-insensitive collations never merge two keys the generator thinks
//     are distinct.
package workload

// TODO(e2e DDL, issue 8): between rounds, ALTER TABLE … ADD COLUMN (with and
// without DEFAULT) and widen types (int→bigint, varchar(n)→varchar(m),
// numeric precision) on both dialects with capture running; Tables then
// must track the live columns so the comparison reads them (old rows NULL
// in the lake unless changed after the DDL; see docs/testing.md).
