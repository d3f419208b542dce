// Package fileblob is a blob.Store rooted at a local directory: key
// "a/b/c" is the file <root>/a/b/c.
//
// Invariants:
//   - PutIfAbsent never overwrites. It writes a hidden temp file in the
//     target directory, fsyncs it, then link(2)s it to the final name, which
//     fails with EEXIST if the name is taken; so exactly one of any number of
//     racing writers (threads or processes on one filesystem) wins, and the
//     object appears complete or not at all. rename(2) is never used here
//     because it replaces silently.
//   - Put replaces: temp file, fsync, rename. Readers see the old or the new
//     object, never a partial one.
//   - Temp files are named ".sluice-tmp-*"; List skips them and keys may not
//     use a segment with that prefix. A crash can leave them behind; they
//     are harmless and may be deleted when no writer runs.
//   - List walks the tree in lexical key order (not directory order: "a.txt"
//     sorts before "a/b" because '.' < '/'), yielding regular files only.
//
// Limits: a key cannot be both an object and a "directory" ("a" and "a/b"),
// unlike S3; such a write fails with an error naming the key. The root
// directory must be on a filesystem with hard links (any local POSIX one).
package fileblob
