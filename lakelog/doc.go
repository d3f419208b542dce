// Package lakelog implements the Delta Lake transaction log: actions, log
// replay into snapshots, checkpoints, and optimistic commits on an object
// store (lakelog/blob).
//
// Invariants:
//   - A commit file _delta_log/<v>.json is written only with PutIfAbsent and
//     never overwritten; a lost race re-reads the winners, checks conflicts and
//     retries as the next version.
//   - Data files are never overwritten; their names are unique.
//   - A table whose protocol needs a reader feature lakelog does not support
//     is refused with an error naming the feature, never misread.
//   - lakelog imports only lakelog/... and schemas from sluice.
package lakelog
