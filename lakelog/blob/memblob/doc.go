// Package memblob is an in-memory blob.Store for tests and the embedded
// demo. Objects live in a map guarded by one mutex, so PutIfAbsent is
// trivially atomic; stored bytes are copied on write and never mutated, so
// readers returned by Get stay valid after later writes. Nothing persists
// beyond the process.
package memblob
