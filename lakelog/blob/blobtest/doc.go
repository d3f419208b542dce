// Package blobtest is the conformance suite every blob.Store passes:
// memblob, fileblob, s3blob (against gofakes3 and versitygw) and any store
// seen through blob.Sub. It checks each contract documented on blob.Store
// and the optional Stat and ListFrom capabilities when a store has them.
//
// Every subtest works under its own random key namespace, so the stores a
// newStore function returns may share one backing bucket or directory.
package blobtest
