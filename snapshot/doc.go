// Package snapshot loads the existing rows of source tables into the raw
// table: parallel, chunked by primary-key ranges, throttled, resumable per
// chunk, and ordered exactly against the change stream, so that the
// ordinary merge (raw → SCD1, guarded by the ordering key) applies them
// with no special path.
//
// # Rows
//
// Every source row becomes one raw row exactly as ingest would store a
// Debezium snapshot record: value = an op "r" envelope with schema
// (schemas.EncodeValue, withSchema true, source.snapshot "true", "last" on
// the last row of a table's final chunk), key = schemas.EncodeKey, topic =
// TableID.Topic(Config.TopicPrefix), partition -1 and offset
// chunk<<32|row (they come from no Kafka partition), snapshot = true,
// batch_id "snapshot|<id>|<table>|<chunk>", and ordering_key = the view's
// Source.OrderingKey(). Loading straight into SCD1 tables (typed Parquet
// sorted by key, the fast path) is a later phase; going through
// the raw table first keeps one code path for ordering, deletes and
// schema evolution, at the cost of writing the rows twice.
//
// # Exact ordering (PostgreSQL)
//
// A chunk is read in a View, one consistent read point. snapshot/postgres
// makes a view with a replication connection's
// CREATE_REPLICATION_SLOT … TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT: the
// server returns the slot's consistent point P and an exported snapshot in
// which a transaction is visible exactly when its commit record starts
// before P (the transactions the slot would not stream). Workers import it
// (SET TRANSACTION SNAPSHOT) in a REPEATABLE READ transaction per chunk.
// Its rows get the ordering key (P, 0). Why that is exact with sluice's
// capture, which keys a change by (its transaction's commit record LSN —
// pgoutput's Begin.FinalLSN —, the change's own LSN):
//   - a transaction T the snapshot reflects has commit LSN < P, so every
//     change of T sorts before (P, 0);
//   - a transaction the snapshot does not reflect has commit LSN ≥ P and
//     its changes have LSN > 0, so they sort after (P, 0).
//
// Per row, the merge therefore keeps the snapshot row over every change it
// already contains and lets every later change win, whatever order the
// raw table receives them in (TestSnapshotOrderedAgainstConcurrentWrites
// checks this against a pgoutput stream under concurrent writes).
//
// Why not a plain MVCC snapshot with pg_current_snapshot() plus
// pg_current_wal_lsn(): visibility in PostgreSQL follows the proc array,
// not WAL order, so a transaction whose commit record precedes the LSN can
// still be invisible, and two transactions can become visible in the
// opposite order of their commit records; no single key then separates
// "reflected" from "not reflected". The exported snapshot is built by
// logical decoding itself and is cut exactly in commit-record order.
//
// Caveat — Debezium's sequence[0] is not the own commit LSN: it is the end
// LSN of the PREVIOUS commit the connector saw (schemas.Source.CommitLSN
// documents that contract; capture/postgres currently sets the own
// FinalLSN). Under Debezium's meaning, the first streamed transaction after
// P carries the end of the last streamed commit before P, which can be
// < P, so (P, 0) would wrongly win over it. Snapshots are exact with
// sluice's capture; combined with real Debezium they need the key of the
// last streamed commit before P (TODO, see the report).
//
// No long transaction: a worker's transaction lasts one chunk. The
// exporting connection pins the xmin horizon and WAL while its view lives;
// Config.ViewMaxAge (default 1 minute) bounds that: the next chunk after it
// opens a fresh view (new P), the old one closes when its chunks finish.
// Each chunk's rows carry the P of the view they were read in, which is
// all exactness needs (it is per row). No table lock is taken.
//
// # Tables read in one view (partial row images)
//
// Exactness per row is not enough when a table's change events may lack
// columns (MySQL/MariaDB minimal row images; Table.PartialImages): a key
// change takes the missing columns from the row under the old key, and a
// key change at E can move a row from a chunk read after E to a chunk
// read before E, so that no view holds it. Such a table (Config.
// PartialImages decides which) is read by one worker, all its chunks in
// sequence in one view of its own that ViewMaxAge never replaces, so the
// snapshot holds every row present at one position. A rerun that finds
// such a table partly committed reads it again in full in a new view,
// committed chunks first and missing ones last, so that merge holds the
// table back until every chunk has been read at the new position (see
// oneview.go).
//
// # The recheck pass (PostgreSQL)
//
// PostgreSQL's unchanged-TOAST values are the same class of event, but
// its tables keep rotating views (an exported snapshot pins the xmin
// horizon). A Source that implements Rechecker instead gets a recheck
// pass per table of more than one chunk (recheck.go): a mark taken when
// the plan is stored, before the table's first view, is part of the
// plan; after every key-range chunk is committed, one fresh view opened
// after all of theirs re-reads every row written since the mark and
// commits them as one more chunk, len(chunks), with its own appId. So:
//   - every row present at the fresh view is in the snapshot, with a row
//     version read at that view or one unchanged since before the first
//     chunk's view;
//   - merge's hold-back counts the pass as a chunk, so the table merges
//     only after it;
//   - a resumed run re-reads from the stored mark (covering every view of
//     every run), and skips the read only when this run read every chunk
//     in one view.
//
// # Chunks
//
// Chunks are primary-key ranges Lo < key ≤ Hi with row-value comparisons
// ((a,b) > (x,y)), so composite keys work and PostgreSQL uses the key
// index as range bounds. Boundaries come from the key distribution
// (Source.Boundaries: one ordered scan picking every n-th key, or a
// TABLESAMPLE of sorted keys with PickBoundaries for huge tables), never
// from min/max arithmetic, so skewed keys still give even chunks.
// PlanChunks covers every key exactly once (FuzzChunkCoverage).
//
// # Resume
//
// The plan (boundaries) is stored once, with put-if-absent, at
// _sluice_snapshot/<snapshot id>/<db.schema.table>.json in the raw
// table's store (Delta readers and VACUUM ignore '_' paths), so a rerun
// means the same ranges by the same chunk numbers even though the table
// has changed. Each chunk commits its files together with a txn action
// appId ChunkAppID(id, table, chunk) = "sluice-snapshot|<id>|<table>|<n>",
// version = its row count. A rerun with the same snapshot id skips chunks
// whose appId exists; two runs racing on one chunk conflict on the appId
// and the loser drops its copy. One appId per chunk rather than one
// domainMetadata bitmap per table: chunk commits from parallel workers
// then never conflict with each other, and lakelog's txn conflict rule
// already gives exactly-once per chunk.
//
// # Workers and throttle
//
// Config.Parallel workers take chunks from one queue across all tables.
// Config.MaxRowsPerSec is one token bucket for all of them (rows are taken
// in steps of 256; a blocked worker stops reading, which back-pressures
// the COPY through TCP). Within a chunk, reading, value conversion and
// JSON encoding run on the worker's goroutine while a second goroutine
// encodes and compresses the Parquet (chunkPipeline: batches of encoded
// rows, at most four in flight, so a worker uses two cores and a slow
// writer back-pressures the read). Progress events (rows, rows/s, ETA per table)
// go to a callback; rendering belongs to the caller. Run returns a Report.
//
// The caller (cmd/jobs) must make sure capture is running, with its slot
// created before the snapshot starts, so that no change after P is lost.
package snapshot
