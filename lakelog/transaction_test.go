package lakelog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

var rawTableProtocol = Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly", "domainMetadata", "clustering"}}

// readLogLines returns commit v's lines decoded as generic JSON objects, so
// the checks do not depend on our own action types.
func readLogLines(t *testing.T, store blob.Store, v int64) []map[string]json.RawMessage {
	t.Helper()
	data, err := readAll(context.Background(), store, fmt.Sprintf("_delta_log/%020d.json", v))
	if err != nil {
		t.Fatalf("read commit %d: %v", v, err)
	}
	var out []map[string]json.RawMessage
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("commit %d: line %q: %v", v, line, err)
		}
		out = append(out, m)
	}
	return out
}

func field(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m
}

func TestCreateWritesVersionZero(t *testing.T) {
	ctx := context.Background()
	store := memblob.New()
	table := Open(store, Options{})
	clustering := DomainMetadata{Domain: "delta.clustering", Configuration: `{"clusteringColumns":[["id"]],"domainName":"delta.clustering"}`}
	snap, err := table.Create(ctx, Metadata{SchemaString: testSchema, Configuration: map[string]string{"delta.appendOnly": "true"}}, rawTableProtocol, clustering)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != 0 {
		t.Fatalf("version = %d, want 0", snap.Version())
	}
	lines := readLogLines(t, store, 0)
	var kinds []string
	for _, l := range lines {
		for k := range l {
			kinds = append(kinds, k)
		}
	}
	if got, want := strings.Join(kinds, ","), "commitInfo,protocol,metaData,domainMetadata"; got != want {
		t.Fatalf("actions = %s, want %s", got, want)
	}
	ci := field(t, lines[0]["commitInfo"])
	for key, want := range map[string]string{`operation`: `"CREATE TABLE"`, `isolationLevel`: `"WriteSerializable"`, `isBlindAppend`: `true`} {
		if got := string(ci[key]); got != want {
			t.Errorf("commitInfo.%s = %s, want %s", key, got, want)
		}
	}
	if !strings.HasPrefix(string(ci["engineInfo"]), `"sluice/`) {
		t.Errorf("commitInfo.engineInfo = %s", ci["engineInfo"])
	}
	var txnID string
	if err := json.Unmarshal(ci["txnId"], &txnID); err != nil || uuid.Validate(txnID) != nil {
		t.Errorf("commitInfo.txnId = %s, want a uuid", ci["txnId"])
	}
	if _, ok := ci["readVersion"]; ok {
		t.Errorf("commitInfo of a create has readVersion %s", ci["readVersion"])
	}
	if got, want := string(lines[1]["protocol"]), `{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["appendOnly","domainMetadata","clustering"]}`; got != want {
		t.Errorf("protocol = %s, want %s", got, want)
	}
	md := field(t, lines[2]["metaData"])
	var id string
	if err := json.Unmarshal(md["id"], &id); err != nil || uuid.Validate(id) != nil {
		t.Errorf("metaData.id = %s, want a GUID", md["id"])
	}
	for key, want := range map[string]string{
		"format":           `{"provider":"parquet","options":{}}`,
		"partitionColumns": `[]`,
		"configuration":    `{"delta.appendOnly":"true"}`,
	} {
		if got := string(md[key]); got != want {
			t.Errorf("metaData.%s = %s, want %s", key, got, want)
		}
	}
	var schemaString string
	if err := json.Unmarshal(md["schemaString"], &schemaString); err != nil || schemaString != testSchema {
		t.Errorf("metaData.schemaString = %s", md["schemaString"])
	}
	if _, ok := md["createdTime"]; !ok {
		t.Error("metaData has no createdTime")
	}
	if got, want := string(lines[3]["domainMetadata"]), `{"domain":"delta.clustering","configuration":"{\"clusteringColumns\":[[\"id\"]],\"domainName\":\"delta.clustering\"}","removed":false}`; got != want {
		t.Errorf("domainMetadata = %s, want %s", got, want)
	}

	// An unpartitioned table without properties still writes [] and {}.
	store2 := memblob.New()
	if _, err := Open(store2, Options{}).Create(ctx, Metadata{SchemaString: testSchema}, Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	md2 := field(t, readLogLines(t, store2, 0)[2]["metaData"])
	if string(md2["configuration"]) != `{}` || string(md2["partitionColumns"]) != `[]` {
		t.Errorf("metaData = configuration %s partitionColumns %s, want {} and []", md2["configuration"], md2["partitionColumns"])
	}

	if _, err := table.Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol); !errors.Is(err, ErrTableExists) {
		t.Errorf("second Create: err = %v, want ErrTableExists", err)
	}
}

func TestCreateRefuses(t *testing.T) {
	dm := DomainMetadata{Domain: "sluice.x", Configuration: "{}"}
	for _, tc := range []struct {
		name        string
		meta        Metadata
		proto       Protocol
		domains     []DomainMetadata
		wantFeature string // "" means any error
	}{
		{name: "unknown writer feature", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly", "rowTracking"}}, wantFeature: "rowTracking"},
		{name: "legacy writer 4", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 4}, wantFeature: "checkConstraints"},
		{name: "reader feature", proto: Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"typeWidening"}, WriterFeatures: []string{"typeWidening"}}, wantFeature: "typeWidening"},
		{name: "column mapping reader 2", proto: Protocol{MinReaderVersion: 2, MinWriterVersion: 5}, wantFeature: "columnMapping"},
		{name: "domain without feature", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly"}}, domains: []DomainMetadata{dm}},
		{name: "domain on legacy protocol", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, domains: []DomainMetadata{dm}},
		{name: "clustering without domainMetadata", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"clustering"}}},
		{name: "appendOnly property without feature", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 1}, meta: Metadata{Configuration: map[string]string{"delta.appendOnly": "true"}}},
		{name: "partitioned clustered table", proto: rawTableProtocol, meta: Metadata{PartitionColumns: []string{"id"}}},
		{name: "partition column not in schema", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, meta: Metadata{PartitionColumns: []string{"nope"}}},
		{name: "column invariants", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, meta: Metadata{SchemaString: `{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{"delta.invariants":"{\"expression\":{\"expression\":\"a > 0\"}}"}}]}`}, wantFeature: "invariants"},
		{name: "bad schema", proto: Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, meta: Metadata{SchemaString: `{"type":"struct","fields":[{"name":"a","type":"nonsense"}]}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := memblob.New()
			meta := tc.meta
			if meta.SchemaString == "" {
				meta.SchemaString = testSchema
			}
			_, err := Open(store, Options{}).Create(context.Background(), meta, tc.proto, tc.domains...)
			if err == nil {
				t.Fatal("Create succeeded")
			}
			if tc.wantFeature != "" {
				var ufe *UnsupportedFeatureError
				if !errors.As(err, &ufe) || ufe.Feature != tc.wantFeature {
					t.Fatalf("err = %v, want UnsupportedFeatureError for %s", err, tc.wantFeature)
				}
			}
			for _, err := range store.List(context.Background(), "") {
				if err != nil {
					t.Fatal(err)
				}
				t.Fatal("refused Create wrote an object")
			}
		})
	}
}

func TestCommitRefusesTableWithUnknownWriterFeature(t *testing.T) {
	ctx := context.Background()
	store := memblob.New()
	// Version 0 as another engine wrote it, with a feature we do not implement.
	v0 := `{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["domainMetadata","rowTracking"]}}
{"metaData":{"id":"3e8c5c3b-5c0b-4b8c-9a43-7d7e2b0d1f00","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{}}}
`
	if err := store.PutIfAbsent(ctx, "_delta_log/00000000000000000000.json", []byte(v0)); err != nil {
		t.Fatal(err)
	}
	table := Open(store, Options{})
	snap, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := snap.Begin("WRITE")
	tx.Add(&Add{Path: "a.parquet", Size: 1, DataChange: true})
	_, err = tx.Commit(ctx)
	var ufe *UnsupportedFeatureError
	if !errors.As(err, &ufe) || ufe.Feature != "rowTracking" || ufe.Reader {
		t.Fatalf("err = %v, want writer UnsupportedFeatureError for rowTracking", err)
	}
	if _, err := readAll(ctx, store, commitKey(1)); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("commit 1 exists (err %v)", err)
	}
}

func TestCommitInfoMetrics(t *testing.T) {
	ctx := context.Background()
	store := memblob.New()
	table := Open(store, Options{})
	snap, err := table.Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol)
	if err != nil {
		t.Fatal(err)
	}
	tx := snap.Begin("WRITE")
	tx.Add(&Add{Path: "a.parquet", Size: 1000, DataChange: true, Stats: `{"numRecords":10}`},
		&Add{Path: "b.parquet", Size: 234, DataChange: true, Stats: `{"numRecords":5,"minValues":{"id":1}}`})
	tx.SetAppVersion("app", 3)
	tx.SetOperationParameters(map[string]any{"mode": "Append"})
	v, err := tx.Commit(ctx)
	if err != nil || v != 1 {
		t.Fatalf("Commit = %d, %v; want 1", v, err)
	}
	lines := readLogLines(t, store, 1)
	ci := field(t, lines[0]["commitInfo"])
	if got := string(ci["operationMetrics"]); got != `{"numFiles":"2","numOutputBytes":"1234","numOutputRows":"15"}` {
		t.Errorf("operationMetrics = %s", got)
	}
	for key, want := range map[string]string{"readVersion": "0", "isBlindAppend": "true", "operation": `"WRITE"`, "operationParameters": `{"mode":"Append"}`} {
		if got := string(ci[key]); got != want {
			t.Errorf("commitInfo.%s = %s, want %s", key, got, want)
		}
	}
	if got := string(ci["txnId"]); got != `"`+tx.ID()+`"` {
		t.Errorf("txnId = %s, want %q", got, tx.ID())
	}

	// A commit that reads is not a blind append.
	snap, _ = table.Snapshot(ctx)
	tx = snap.Begin("DELETE")
	tx.ReadFiles("a.parquet")
	tx.RemoveFile(snap.Files()[0], true)
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	ci = field(t, readLogLines(t, store, 2)[0]["commitInfo"])
	if string(ci["isBlindAppend"]) != "false" {
		t.Errorf("isBlindAppend = %s, want false", ci["isBlindAppend"])
	}
	rm := field(t, readLogLines(t, store, 2)[1]["remove"])
	for key, want := range map[string]string{"path": `"a.parquet"`, "dataChange": "true", "extendedFileMetadata": "true", "size": "1000"} {
		if got := string(rm[key]); got != want {
			t.Errorf("remove.%s = %s, want %s", key, got, want)
		}
	}
	if _, ok := rm["deletionTimestamp"]; !ok {
		t.Error("remove has no deletionTimestamp")
	}
}

// ambiguousStore performs PutIfAbsent of commit keys and then reports an
// error, as an S3 request that timed out after the server stored the
// object would. before, if set, runs first (to let a competitor in).
type ambiguousStore struct {
	blob.Store
	failures atomic.Int32 // how many more commit writes to fail
	write    bool         // whether the failing write still happens
	before   func(key string)
	after    func(key string)
}

var errUnavailable = errors.New("503 service unavailable")

// flakyGetStore fails the next getFailures Gets of commit files.
type flakyGetStore struct {
	blob.Store
	getFailures atomic.Int32
}

func (s *flakyGetStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.HasSuffix(key, ".json") && s.getFailures.Add(-1) >= 0 {
		return nil, errUnavailable
	}
	return s.Store.Get(ctx, key)
}

// After an ambiguous write that landed, failing to read the log back must
// not turn our successful commit into an error.
func TestCommitAmbiguousWriteThenFailedRead(t *testing.T) {
	ctx := context.Background()
	inner := memblob.New()
	if _, err := Open(inner, Options{}).Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyGetStore{Store: inner}
	store := &ambiguousStore{Store: flaky, write: true}
	store.failures.Store(1)
	table := Open(store, Options{})
	snap, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flaky.getFailures.Store(2)
	tx := snap.Begin("WRITE")
	tx.Add(&Add{Path: "ours.parquet", Size: 1, DataChange: true})
	if v, err := tx.Commit(ctx); err != nil || v != 1 {
		t.Fatalf("Commit = %d, %v; want 1", v, err)
	}
	if _, err := readAll(ctx, inner, commitKey(2)); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("commit 2 exists (err %v): committed twice", err)
	}
}

func (s *ambiguousStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if !strings.HasSuffix(key, ".json") || s.failures.Add(-1) < 0 {
		return s.Store.PutIfAbsent(ctx, key, data)
	}
	if s.before != nil {
		s.before(key)
	}
	if s.write {
		if err := s.Store.PutIfAbsent(ctx, key, data); err != nil {
			return err
		}
	}
	if s.after != nil {
		s.after(key)
	}
	return errUnavailable
}

// competitor commits a blind append of path directly to the inner store.
func competitor(t *testing.T, inner blob.Store, path string) {
	t.Helper()
	ctx := context.Background()
	snap, err := Open(inner, Options{}).Snapshot(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	tx := snap.Begin("WRITE")
	tx.Add(&Add{Path: path, Size: 1, DataChange: true})
	if _, err := tx.Commit(ctx); err != nil {
		t.Error(err)
	}
}

func TestCommitAmbiguousWrite(t *testing.T) {
	for _, tc := range []struct {
		name        string
		write       bool
		competitor  string // "before" or "after" our (maybe) write
		wantVersion int64
		wantLatest  int64
	}{
		// The write happened: the retry finds our own commit and stops.
		{name: "written", write: true, wantVersion: 1, wantLatest: 1},
		// The write happened and another writer committed after it:
		// still our version 1, never a second copy at 3.
		{name: "written then competitor", write: true, competitor: "after", wantVersion: 1, wantLatest: 2},
		// The write did not happen: retry at 1 and commit.
		{name: "not written", write: false, wantVersion: 1, wantLatest: 1},
		// The write did not happen and a competitor took 1: commit at 2.
		{name: "not written, competitor won", write: false, competitor: "before", wantVersion: 2, wantLatest: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			inner := memblob.New()
			if _, err := Open(inner, Options{}).Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol); err != nil {
				t.Fatal(err)
			}
			store := &ambiguousStore{Store: inner, write: tc.write}
			store.failures.Store(1)
			switch tc.competitor {
			case "before":
				store.before = func(string) { competitor(t, inner, "other.parquet") }
			case "after":
				store.after = func(string) { competitor(t, inner, "other.parquet") }
			}
			table := Open(store, Options{})
			snap, err := table.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tx := snap.Begin("WRITE")
			tx.Add(&Add{Path: "ours.parquet", Size: 1, DataChange: true})
			tx.SetAppVersion("ours", 1)
			v, err := tx.Commit(ctx)
			if err != nil || v != tc.wantVersion {
				t.Fatalf("Commit = %d, %v; want %d", v, err, tc.wantVersion)
			}
			// Count our commit in the raw log: exactly once.
			found := 0
			var latest int64
			for v := int64(1); ; v++ {
				data, err := readAll(ctx, inner, commitKey(v))
				if errors.Is(err, blob.ErrNotExist) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				latest = v
				found += strings.Count(string(data), `"path":"ours.parquet"`)
				if strings.Contains(string(data), tx.ID()) && v != tc.wantVersion {
					t.Errorf("our txnId in commit %d, want only %d", v, tc.wantVersion)
				}
			}
			if found != 1 || latest != tc.wantLatest {
				t.Fatalf("our add appears %d times, latest version %d; want once, %d", found, latest, tc.wantLatest)
			}
		})
	}
}

func TestCommitGivesUpAfterMaxAttempts(t *testing.T) {
	ctx := context.Background()
	inner := memblob.New()
	if _, err := Open(inner, Options{}).Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol); err != nil {
		t.Fatal(err)
	}
	store := &ambiguousStore{Store: inner, write: false}
	store.failures.Store(1 << 20)
	table := Open(store, Options{MaxCommitAttempts: 3})
	snap, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := snap.Begin("WRITE")
	tx.Add(&Add{Path: "a.parquet", Size: 1, DataChange: true})
	_, err = tx.Commit(ctx)
	var ae *AttemptsError
	if !errors.Is(err, ErrCommitAttempts) || !errors.As(err, &ae) || ae.Attempts != 3 || !errors.Is(err, errUnavailable) {
		t.Fatalf("err = %v, want AttemptsError after 3 attempts wrapping the store error", err)
	}
	if got := store.failures.Load(); got != 1<<20-3 {
		t.Fatalf("%d PutIfAbsent calls, want 3", 1<<20-got)
	}
}

// A legacy (1,2) table with delta.appendOnly=true: writable, append-only.
func TestLegacyAppendOnlyTable(t *testing.T) {
	ctx := context.Background()
	table := Open(memblob.New(), Options{})
	snap, err := table.Create(ctx, Metadata{SchemaString: testSchema, Configuration: map[string]string{"delta.appendOnly": "true"}}, Protocol{MinReaderVersion: 1, MinWriterVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	tx := snap.Begin("WRITE")
	tx.Add(&Add{Path: "a.parquet", Size: 1, DataChange: true})
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err = table.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx = snap.Begin("DELETE")
	tx.RemoveFile(snap.Files()[0], true)
	if _, err := tx.Commit(ctx); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("data-changing remove on an append-only table: err = %v", err)
	}
}
