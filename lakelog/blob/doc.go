// Package blob is the object-store seam under lakelog: a Store holds
// immutable objects addressed by slash-separated keys.
//
// Implementations live in sub-packages (fileblob, memblob, s3blob) and all
// pass the conformance suite in blobtest. Contracts every Store keeps:
//   - Keys are relative, slash-separated, never start with "/" and never
//     contain "." or ".." segments.
//   - PutIfAbsent is atomic: of any number of concurrent callers for one key,
//     exactly one succeeds and the rest get ErrExist. It is the Delta commit
//     primitive; no implementation may emulate it with check-then-put.
//   - A successful Put or PutIfAbsent is visible to every later Get and List.
//   - All methods are safe for concurrent use.
package blob
