// Package ingest copies Kafka topics, chosen by a regular expression, into
// sluice's one raw Delta table as available-now microbatches.
//
// A run lists the matching topics, and for each partition it reads exactly
// the offsets [start, end): start is one past the offset recorded in the raw
// table's txn action for that partition (schemas.IngestAppID), or the log
// start offset when there is none; end is the partition's last stable offset
// when the run started. Records produced after that wait for the next run.
//
// Invariants:
//   - Exactly-once: the files of a microbatch and one txn action per
//     (topic, partition) it covered, version = last offset written, go into
//     the same Delta commit. Offsets come from the Delta log, never from the
//     consumer group; the group only receives the committed offsets
//     afterwards, for lag monitoring.
//   - Two processes that read the same partition conflict on its txn appId
//     (lakelog.ErrConflict); the loser discards its uncommitted files
//     (orphans that VACUUM removes) and re-plans from the winner's version.
//     Appends of different partitions commute.
//   - Partitions are read by direct assignment (kgo.ConsumePartitions), never
//     by group rebalancing. Several processes split the partitions with a
//     deterministic hash (Config.Worker of Config.Workers); correctness never
//     depends on the split being disjoint.
//   - Records that cannot be parsed go to the dead-letter table, committed
//     (with its own per-partition txn versions, so a retry does not repeat
//     them) before the raw commit that moves past them.
//   - Memory is bounded whatever the backlog: rows are encoded into
//     streaming Parquet files, built in unlinked temporary files
//     (Config.TempDir), as they arrive (quiet topics wait as copies and are
//     packed together); a file is uploaded when it reaches
//     Config.TargetFileBytes, and when the row groups being built hold
//     Config.MaxBufferBytes they are flushed early, then the largest files
//     finished early (fileBuffer). A microbatch commits once, after all its
//     files, and may cover many.
//   - Each partition's Kafka topic ID is recorded beside its offset
//     (topicid.go): a recreated topic is detected even when its offsets
//     did not go backwards.
//   - Files are sorted by (topic, ingest_ts): ingest_ts is fixed per
//     microbatch and no file spans two; every file has stats on both.
//   - Every row keeps the record's key, value and headers byte for byte.
package ingest
