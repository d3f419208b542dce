// Package merge turns the raw table (one row per Kafka record, see
// schemas/raw.go) into one SCD Type 1 Delta table per source table: the
// latest row per primary key, deletes applied.
//
// A Run reads the raw commits after the least raw version any selected SCD1
// table has merged (new tables start at -1), takes only dataChange=true adds
// (compaction rewrites carry no new data), skips files whose topic stats
// exclude every topic that still needs the commit, and routes rows by
// (source_db, source_schema, source_table). Which topics feed which tables
// is remembered in <TablesRoot>/_sluice_merge/catalog.json, an optimisation
// only (a lost catalog means reading more, never merging twice).
//
// A backlog whose raw files pass Config.MaxPassBytes (a merge that has not
// run for long, a Debezium snapshot read through Kafka) is merged in passes
// over consecutive raw version ranges, each committed like a Run stopping
// there, so memory is bounded by a pass (passes.go: why passes give the
// same rows, the exceptions, crashes). No pass ends before the last raw
// commit of a sluice snapshot (txn appId schemas.SnapshotAppIDPrefix): its
// rows come late with old positions, and the changes newer than them must
// be merged with them.
//
// Per table (table.go), in one Delta commit:
//   - txn appId "sluice-merge" = the raw version merged to, so a rerun after
//     a crash skips raw commits <= it (exactly once); and domainMetadata
//     "sluice.progress" {"rawVersion","orderingKey","sourceTsMs","mergedAt"}
//     for freshness checks. Tables with nothing new get a commit with only
//     these two, so their freshness advances too.
//   - Changes are applied in ordering-key order; a change whose ordering key
//     is <= the row's _sluice_ordering_key (or its tombstone's) is skipped,
//     so duplicates, replays and late older events never move a row back.
//     c/r/u upsert (columns the event does not carry, i.e. unchanged TOAST or
//     a minimal row image, keep their old value), d deletes, an update whose
//     before key differs from its after key deletes the old key.
//   - Hard deletes (default) remove the row and leave a tombstone in the
//     side table <table>/_sluice_tombstones/ (Delta readers skip "_" dirs),
//     committed before the main commit and expired after
//     Config.TombstoneRetention; soft deletes keep the row with
//     _sluice_deleted = true (the row is its own tombstone).
//   - TRUNCATE (op "t") at ordering key T removes every row older than T
//     (soft-delete tables mark them deleted with _sluice_op "t") and records
//     T as Progress.TruncatedAt: a change older than T, in this batch or a
//     later one, is skipped like one older than its row, so later inserts
//     stay and late events do not resurrect rows. Only files whose
//     _sluice_ordering_key stats admit a row older than T are rewritten.
//   - Copy-on-write by key range: only files that can hold a changed key
//     (every key column's value within that column's stats range) are read
//     and rewritten (remove with dataChange=true, adds), the rest are
//     untouched. Output rows are sorted by key and never span the first-key
//     minimum of an untouched file, so ranges stay disjoint and tight. The
//     transaction registers the rewritten files as read: a concurrent merge
//     that removed them conflicts and the table is merged again from the
//     new snapshot. Rows rewritten per changed row (the changed rows
//     included) is about 1 + TargetFileRows / (changes per cluster of
//     consecutive keys): key-clustered changes touch few files, so smaller
//     files bound the amplification. The default, 10000 rows (was 1<<20),
//     keeps a clustered batch of 10000 changes at 2 (20000-row files gave
//     3; BenchmarkMerge at 1M rows) without slowing inserts, which write
//     new files only, or random changes, which touch every file: a full
//     rewrite unless the table uses deletion vectors. Clustered changes
//     fill most of each file they hit, past the 20% at which a deletion
//     vector gives way to a rewrite, so deletion vectors do not lower
//     their amplification (with 1<<20-row files they did: 1 DV row per
//     change). Smaller files still would (8192: 1.6) at the price of more
//     files (a 10000-row insert batch becomes two). Cutting rewritten
//     files at the changed key range's edges was measured too: 2.4 with
//     20000-row files, and it leaves small fragments behind.
//   - Deletion vectors (TableConfig.DeletionVectors, opt-in per table;
//     deletionvectors.go): a hit file has only its key (and, unless its
//     stats show every row older than the batch, _sluice_ordering_key)
//     column read to find the changed rows' positions; they join the
//     file's DV (remove of the old add with its DV, add of the same path
//     with the union; one DV file per commit, lakelog/dv) and the new
//     rows go to new files. A hit file with none of the changed keys is
//     left alone. Files whose DV would pass 20% of their rows, and files
//     with a change that needs the old row's other columns (TOAST or
//     minimal images, soft deletes, the old key of a soft key change), are
//     rewritten as above, which drops their DV. numRecords stays the
//     physical count; DV'd files' stats say tightBounds=false. Every read
//     of SCD1 data files here (readRows, scanFile) skips DV'd rows.
//   - Decoding: each distinct Connect schema of the events is decoded once
//     per run (schemaCache); it used to be 75% of a merge's CPU.
//
// SCD1 columns: the source columns (types from schemas.DeltaTypeOf when the
// events carry a Connect schema, else inferred from the latest non-null
// values), then _sluice_ordering_key string, _sluice_op string,
// _sluice_source_ts timestamp, _sluice_merged_at timestamp, and
// _sluice_deleted boolean for soft-delete tables. Source columns added later
// come at the end (nullable; old rows read NULL). Key columns are NOT NULL,
// all other source columns nullable. The key columns are recorded in the
// table property sluice.primaryKey. Stats cover at least the first 32
// columns and every key column (delta.dataSkippingNumIndexedCols is raised
// when a key column lies beyond).
//
// Schema evolution uses schemas.Evolve: added columns change the metaData;
// widening (integer→long, float→double, decimal precision/scale) rewrites
// every file of the table with the wider type in the same commit as the
// metaData change (lakelog does not write the typeWidening feature, and a
// full rewrite is readable by every reader); an incompatible change fails
// that table with an error naming table, column, old and new type, and the
// other tables go on (Run's error joins the failures).
//
// Protocol: (1,7) with writer feature domainMetadata; a timestamp_ntz
// column (source timestamps without zone) needs (3,7) with the
// timestampNtz reader and writer feature; deletion vectors need (3,7)
// with the deletionVectors reader and writer feature and the table
// property delta.enableDeletionVectors=true (every reader of the table
// must then apply DVs).
//
// Tables without a primary key (null Kafka key and no TableConfig.Key) are
// refused with an error naming the table: keeping "the latest row" needs a
// key, and an append-only mirror of such a table is the raw table itself.
//
// Default locations: <TablesRoot>/<db>/<table> (see DefaultLocation).
// Tables lists the SCD1 tables the merge manages (from its catalog) with
// their locations and progress; other packages use it instead of reading
// the catalog file.
package merge
