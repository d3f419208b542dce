// Package pgtext maps PostgreSQL column types to Debezium columns and
// decodes PostgreSQL's text form of a value (what pgoutput sends and what
// COPY … TO STDOUT writes) into Debezium's logical JSON value.
//
// It is the one implementation shared by capture/postgres (change events)
// and snapshot/postgres (snapshot rows), which may not import each other:
// both must produce identical values for identical rows, or the merge would
// see a snapshot row and a change of the same data as different.
//
// Invariants: decoding is exact (numerics never pass through float64,
// timestamps keep microseconds); a value that cannot be represented is an
// error naming what was wrong, never a guess.
package pgtext
