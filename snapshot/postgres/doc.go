// Package postgres is the PostgreSQL snapshot.Source.
//
// Views are exported snapshots of TEMPORARY logical slots (see package
// snapshot for why this is exact); chunks are read with
// COPY (SELECT cols FROM t WHERE key range ORDER BY key) TO STDOUT in text
// form through pgconn.CopyTo, one REPEATABLE READ READ ONLY transaction
// per chunk that imports the view's snapshot. COPY text values are the
// same text pgoutput sends, so schemas/pgtext (shared with
// capture/postgres) maps them to exactly the Debezium values capture
// produces. Binary COPY would parse faster, but
// needs a second, binary, set of decoders that could disagree with
// capture's.
//
// Source is a snapshot.Rechecker: its mark is the oldest running
// transaction id (xid8), and a view's ReadChanged re-reads the rows whose
// xmin falls between the mark and the view's xmax, modulo 2^32 (see
// recheck.go for why that is wraparound- and freeze-safe).
//
// Chunk bounds are literals cast to the key column's type
// ('42'::bigint): COPY takes no bind parameters. They come from the
// server's own ::text output of key values, and sessions run with
// standard_conforming_strings on.
//
// The role needs REPLICATION (temporary slot), SELECT on the tables, and a
// free slot and walsender per open view (one at a time per Run, two
// briefly while views rotate).
package postgres
