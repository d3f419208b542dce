// Package faultblob wraps a blob.Store and injects failures, for testing
// code that must survive an unreliable object store (commits, ingest,
// merge).
//
// Faults are chosen by a seeded *rand.Rand, so a failing run can be
// replayed with the same seed (given the same sequence of calls). Each call
// is matched against Rules in order; the first rule whose Ops and KeyPrefix
// match decides, with its probabilities:
//
//   - FailBefore: return a transient error without calling the wrapped
//     store. Nothing happened.
//   - FailAfter: call the wrapped store and then return a transient error
//     anyway. For Put and PutIfAbsent this is the ambiguous failure of real
//     object stores (a 503 or a dropped connection after the write landed):
//     the object IS stored but the caller saw an error, so a committer that
//     treats every error as "lost" will redo work or skip a version. For
//     Delete the object is gone; for Get the object was read and discarded;
//     for List the error arrives after some objects were yielded.
//   - MaxLatency: sleep a uniform random duration below it first (honouring
//     ctx), to shuffle the interleaving of concurrent callers.
//
// Injected errors are *Error values; blob.IsTransient reports true for
// them, as it does for an S3 503, and they never wrap ErrExist or
// ErrNotExist. SetRules changes the rules at any time (for example to stop
// injecting during a verification phase); Stats counts what was injected.
// The wrapper itself is safe for concurrent use.
package faultblob
