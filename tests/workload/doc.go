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
//   - Schema changes (Alter, RunDDL) add nullable columns at the end, with
//     and without a DEFAULT, and widen types (int→bigint, real/float→double,
//     varchar(n)→varchar(m), decimal precision up); Tables follows them, so
//     the comparison reads the live columns. Rows that existed when a column
//     was added with a DEFAULT and have not changed since read NULL in the
//     lake (LakeNulls): no change event ever carried the backfilled value.
package workload
