package lakelog

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

// agedStore wraps a store so tests can set the modification time List
// reports per key (memblob stamps time.Now) and make Delete fail for one
// key (a run that dies part-way).
type agedStore struct {
	blob.Store
	mu         sync.Mutex
	mtimes     map[string]time.Time
	failDelete string
}

func newAgedStore() *agedStore {
	return &agedStore{Store: memblob.New(), mtimes: map[string]time.Time{}}
}

func (s *agedStore) age(key string, mtime time.Time) {
	s.mu.Lock()
	s.mtimes[key] = mtime
	s.mu.Unlock()
}

func (s *agedStore) List(ctx context.Context, prefix string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		for obj, err := range s.Store.List(ctx, prefix) {
			s.mu.Lock()
			if m, ok := s.mtimes[obj.Key]; ok {
				obj.ModTime = m
			}
			s.mu.Unlock()
			if !yield(obj, err) {
				return
			}
		}
	}
}

func (s *agedStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	fail := key == s.failDelete
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("delete %s: injected failure", key)
	}
	return s.Store.Delete(ctx, key)
}

var vacuumNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// keys lists every key in store, sorted.
func storeKeys(t *testing.T, store blob.Store) []string {
	t.Helper()
	var keys []string
	for obj, err := range store.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

func putFile(t *testing.T, store blob.Store, key string, size int) {
	t.Helper()
	if err := store.Put(context.Background(), key, []byte(strings.Repeat("x", size))); err != nil {
		t.Fatal(err)
	}
}

func commitTx(t *testing.T, table *Table, build func(tx *Transaction)) int64 {
	t.Helper()
	snap, err := table.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tx := snap.Begin("WRITE")
	build(tx)
	v, err := tx.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// vacuumTable builds a table through the lakelog API with, relative to
// vacuumNow and the default 7-day retention:
//
//	active.parquet          active (old mtime)             keep
//	old-tomb.parquet        removed 8 days ago             delete
//	young-tomb.parquet      removed 1 day ago              keep
//	orphan-old.parquet      never in the log, 30 days old  delete
//	dir/orphan-old2.parquet never in the log, 30 days old  delete
//	orphan-new.parquet      never in the log, 1 hour old   keep
//	_hidden/x.parquet, dir/.part.crc, dir/_tmp/y, _delta_log/*: hidden, keep
func vacuumTable(t *testing.T, store *agedStore) *Table {
	t.Helper()
	ctx := context.Background()
	table := Open(store, Options{Now: fixedClock(vacuumNow)})
	if _, err := table.Create(ctx, Metadata{SchemaString: testSchema}, Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int{
		"active.parquet": 10, "old-tomb.parquet": 20, "young-tomb.parquet": 30,
		"orphan-old.parquet": 40, "dir/orphan-old2.parquet": 50, "orphan-new.parquet": 60,
		"_hidden/x.parquet": 70, "dir/.part.crc": 80, "dir/_tmp/y": 90,
	}
	for key, size := range sizes {
		putFile(t, store, key, size)
		store.age(key, vacuumNow.Add(-30*24*time.Hour))
	}
	store.age("orphan-new.parquet", vacuumNow.Add(-time.Hour))
	commitTx(t, table, func(tx *Transaction) {
		for _, p := range []string{"active.parquet", "old-tomb.parquet", "young-tomb.parquet"} {
			tx.Add(&Add{Path: p, Size: int64(sizes[p]), ModificationTime: vacuumNow.Add(-30 * 24 * time.Hour).UnixMilli(), DataChange: true})
		}
	})
	oldTS := vacuumNow.Add(-8 * 24 * time.Hour).UnixMilli()
	youngTS := vacuumNow.Add(-24 * time.Hour).UnixMilli()
	commitTx(t, table, func(tx *Transaction) {
		tx.Remove(&Remove{Path: "old-tomb.parquet", DeletionTimestamp: &oldTS, DataChange: true})
		tx.Remove(&Remove{Path: "young-tomb.parquet", DeletionTimestamp: &youngTS, DataChange: true})
	})
	for _, key := range storeKeys(t, store) {
		if strings.HasPrefix(key, "_delta_log/") {
			store.age(key, vacuumNow.Add(-30*24*time.Hour))
		}
	}
	return table
}

func reportKeys(r *VacuumReport) []string {
	var keys []string
	for _, f := range r.Files {
		keys = append(keys, f.Key)
	}
	return keys
}

func TestVacuumDryRunThenExecute(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := vacuumTable(t, store)
	before := storeKeys(t, store)

	wantKeys := []string{"dir/orphan-old2.parquet", "old-tomb.parquet", "orphan-old.parquet"}
	const wantBytes = 50 + 20 + 40

	dry, err := table.Vacuum(ctx, VacuumOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := reportKeys(dry); !slices.Equal(got, wantKeys) {
		t.Fatalf("dry run files = %v, want %v", got, wantKeys)
	}
	if !dry.DryRun || dry.Deleted != 0 || dry.Bytes != wantBytes || dry.Retention != 7*24*time.Hour || dry.Version != 2 {
		t.Fatalf("dry run report = %+v", dry)
	}
	if got := storeKeys(t, store); !slices.Equal(got, before) {
		t.Fatalf("dry run changed the store: %v, want %v", got, before)
	}

	done, err := table.Vacuum(ctx, VacuumOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := reportKeys(done); !slices.Equal(got, wantKeys) {
		t.Fatalf("executed files = %v, want %v (the dry run's set)", got, wantKeys)
	}
	if done.DryRun || done.Deleted != 3 || done.Bytes != wantBytes {
		t.Fatalf("report = %+v", done)
	}
	var want []string
	for _, k := range before {
		if !slices.Contains(wantKeys, k) {
			want = append(want, k)
		}
	}
	if got := storeKeys(t, store); !slices.Equal(got, want) {
		t.Fatalf("after vacuum store = %v, want %v", got, want)
	}
	for _, k := range []string{"active.parquet", "young-tomb.parquet", "orphan-new.parquet", "_hidden/x.parquet", "dir/.part.crc", "dir/_tmp/y"} {
		if !slices.Contains(want, k) {
			t.Fatalf("test setup: %s should be kept", k)
		}
	}
	snap, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatalf("table unreadable after vacuum: %v", err)
	}
	if n := len(snap.Files()); n != 1 || snap.Files()[0].Path != "active.parquet" {
		t.Fatalf("active files after vacuum = %v", snap.Files())
	}

	again, err := table.Vacuum(ctx, VacuumOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Files) != 0 || again.Deleted != 0 {
		t.Fatalf("second vacuum deleted %v", reportKeys(again))
	}
}

func TestVacuumRerunAfterPartialDeletion(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := vacuumTable(t, store)
	store.failDelete = "old-tomb.parquet" // the second of three, in key order
	r, err := table.Vacuum(ctx, VacuumOptions{Execute: true})
	if err == nil || !strings.Contains(err.Error(), "old-tomb.parquet") {
		t.Fatalf("err = %v, want the injected failure naming old-tomb.parquet", err)
	}
	if r == nil || r.Deleted != 1 {
		t.Fatalf("report after failure = %+v, want Deleted 1", r)
	}
	store.failDelete = ""
	r, err = table.Vacuum(ctx, VacuumOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportKeys(r), []string{"old-tomb.parquet", "orphan-old.parquet"}; !slices.Equal(got, want) {
		t.Fatalf("rerun deleted %v, want %v", got, want)
	}
	for _, k := range storeKeys(t, store) {
		if strings.Contains(k, "orphan-old") || k == "old-tomb.parquet" {
			t.Fatalf("%s survived the rerun", k)
		}
	}
}

func TestVacuumRetention(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := vacuumTable(t, store)

	if _, err := table.Vacuum(ctx, VacuumOptions{Retention: 30 * time.Minute}); err == nil || !strings.Contains(err.Error(), "below the minimum") {
		t.Fatalf("retention 30m: err = %v, want a refusal", err)
	}
	// With Force and 30 minutes, the 1-hour-old orphan and the 1-day-old
	// tombstone go too; the active file still stays.
	r, err := table.Vacuum(ctx, VacuumOptions{Retention: 30 * time.Minute, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dir/orphan-old2.parquet", "old-tomb.parquet", "orphan-new.parquet", "orphan-old.parquet", "young-tomb.parquet"}
	if got := reportKeys(r); !slices.Equal(got, want) {
		t.Fatalf("forced 30m files = %v, want %v", got, want)
	}
	// 10 days: the 8-day-old tombstone is now young enough to keep.
	r, err = table.Vacuum(ctx, VacuumOptions{Retention: 10 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportKeys(r), []string{"dir/orphan-old2.parquet", "orphan-old.parquet"}; !slices.Equal(got, want) {
		t.Fatalf("10-day files = %v, want %v", got, want)
	}
}

func TestVacuumTableRetentionProperty(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := Open(store, Options{Now: fixedClock(vacuumNow)})
	meta := Metadata{SchemaString: testSchema, Configuration: map[string]string{"delta.deletedFileRetentionDuration": "interval 2 days"}}
	if _, err := table.Create(ctx, meta, Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	putFile(t, store, "three-days.parquet", 1)
	store.age("three-days.parquet", vacuumNow.Add(-72*time.Hour))
	putFile(t, store, "one-day.parquet", 1)
	store.age("one-day.parquet", vacuumNow.Add(-24*time.Hour))
	r, err := table.Vacuum(ctx, VacuumOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Retention != 48*time.Hour {
		t.Fatalf("retention = %s, want 48h from the table property", r.Retention)
	}
	if got, want := reportKeys(r), []string{"three-days.parquet"}; !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
}

// rawTable writes commit 0 as literal JSON, for protocols lakelog's Create
// refuses.
func rawTable(t *testing.T, store blob.Store, lines ...string) *Table {
	t.Helper()
	if err := store.Put(context.Background(), "_delta_log/00000000000000000000.json", []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	return Open(store, Options{Now: fixedClock(vacuumNow)})
}

const rawMetadata = `{"metaData":{"id":"6d5c3a5e-0000-4000-8000-000000000001","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{}}}`

func TestVacuumProtocolCheck(t *testing.T) {
	ctx := context.Background()
	// An unsupported writer feature: refused, even though the log is readable.
	store := newAgedStore()
	table := rawTable(t, store, `{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["rowTracking","domainMetadata"]}}`, rawMetadata)
	putFile(t, store, "orphan.parquet", 1)
	store.age("orphan.parquet", vacuumNow.Add(-30*24*time.Hour))
	_, err := table.Vacuum(ctx, VacuumOptions{Execute: true})
	var ufe *UnsupportedFeatureError
	if !errors.As(err, &ufe) || ufe.Feature != "rowTracking" {
		t.Fatalf("err = %v, want an UnsupportedFeatureError for rowTracking", err)
	}
	if !slices.Contains(storeKeys(t, store), "orphan.parquet") {
		t.Fatal("refused vacuum deleted a file")
	}

	// vacuumProtocolCheck itself is supported: Vacuum checks the write
	// protocol of every table.
	store = newAgedStore()
	table = rawTable(t, store, `{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["vacuumProtocolCheck"],"writerFeatures":["vacuumProtocolCheck","appendOnly"]}}`, rawMetadata)
	putFile(t, store, "orphan.parquet", 1)
	store.age("orphan.parquet", vacuumNow.Add(-30*24*time.Hour))
	r, err := table.Vacuum(ctx, VacuumOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportKeys(r), []string{"orphan.parquet"}; !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
}

func TestVacuumRefusesAbsolutePaths(t *testing.T) {
	store := newAgedStore()
	table := rawTable(t, store, `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`, rawMetadata,
		`{"add":{"path":"file:///data/t/part-0.parquet","partitionValues":{},"size":1,"modificationTime":0,"dataChange":true}}`)
	_, err := table.Vacuum(context.Background(), VacuumOptions{})
	if !errors.Is(err, errUnmappedReference) || !strings.Contains(err.Error(), "part-0.parquet") {
		t.Fatalf("err = %v, want a refusal naming the absolute path", err)
	}
}

func TestVacuumURIEncodedPaths(t *testing.T) {
	// The log holds URI-encoded paths; the store holds decoded keys. An
	// active file must be recognized under its decoded key.
	store := newAgedStore()
	table := rawTable(t, store, `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`, rawMetadata,
		`{"add":{"path":"p=a%20b/part%231.parquet","partitionValues":{},"size":1,"modificationTime":0,"dataChange":true}}`)
	putFile(t, store, "p=a b/part#1.parquet", 1)
	putFile(t, store, "p=a b/orphan.parquet", 1)
	for _, k := range []string{"p=a b/part#1.parquet", "p=a b/orphan.parquet", "_delta_log/00000000000000000000.json"} {
		store.age(k, vacuumNow.Add(-30*24*time.Hour))
	}
	r, err := table.Vacuum(context.Background(), VacuumOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportKeys(r), []string{"p=a b/orphan.parquet"}; !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
}

func TestVacuumFileblob(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	table := Open(store, Options{})
	if _, err := table.Create(ctx, Metadata{SchemaString: testSchema}, Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"active.parquet", "old-orphan.parquet", "new-orphan.parquet", "_staging/old.parquet"} {
		putFile(t, store, k, 3)
	}
	old := now.Add(-10 * 24 * time.Hour)
	for _, k := range []string{"active.parquet", "old-orphan.parquet", "_staging/old.parquet"} {
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(k)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	commitTx(t, table, func(tx *Transaction) {
		tx.Add(&Add{Path: "active.parquet", Size: 3, ModificationTime: old.UnixMilli(), DataChange: true})
	})
	r, err := table.Vacuum(ctx, VacuumOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportKeys(r), []string{"old-orphan.parquet"}; !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "old-orphan.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old orphan still on disk: %v", err)
	}
	for _, k := range []string{"active.parquet", "new-orphan.parquet", "_staging/old.parquet"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(k))); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

func TestIsHiddenKey(t *testing.T) {
	for _, tc := range []struct {
		key   string
		parts []string
		want  bool
	}{
		{"part-0.parquet", nil, false},
		{"a=1/part-0.parquet", []string{"a"}, false},
		{"_delta_log/00000000000000000000.json", nil, true},
		{"_change_data/cdc-0.parquet", nil, true},
		{".hidden/part-0.parquet", nil, true},
		{"a=1/.part-0.parquet.crc", []string{"a"}, true},
		{"a=1/_SUCCESS", []string{"a"}, true},
		{"_p=1/part-0.parquet", []string{"_p"}, false},
		{"_p=1/part-0.parquet", nil, true},
		{"_q=1/part-0.parquet", []string{"_p"}, true},
	} {
		if got := isHiddenKey(tc.key, tc.parts); got != tc.want {
			t.Errorf("isHiddenKey(%q, %v) = %v, want %v", tc.key, tc.parts, got, tc.want)
		}
	}
}

func TestVacuumKeepsDeletionVectorFiles(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	// "HelloWorld" is the Z85 spec's test vector for 86 4F D2 6F B5 59 F7 5B.
	const live = "ab/deletion_vector_864fd26f-b559-f75b-864f-d26fb559f75b.bin"
	const orphan = "deletion_vector_00000000-0000-0000-0000-000000000000.bin"
	table := rawTable(t, store, `{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}`, rawMetadata,
		`{"add":{"path":"part-0.parquet","partitionValues":{},"size":1,"modificationTime":0,"dataChange":true,"stats":"{\"numRecords\":3}","deletionVector":{"storageType":"u","pathOrInlineDv":"abHelloWorldHelloWorld","offset":1,"sizeInBytes":10,"cardinality":1}}}`)
	for _, k := range []string{"part-0.parquet", live, orphan} {
		putFile(t, store, k, 1)
		store.age(k, vacuumNow.Add(-30*24*time.Hour))
	}
	r, err := table.Vacuum(ctx, VacuumOptions{Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportKeys(r), []string{orphan}; !slices.Equal(got, want) {
		t.Fatalf("vacuumed %v, want %v", got, want)
	}
	if got := storeKeys(t, store); !slices.Contains(got, live) || slices.Contains(got, orphan) {
		t.Fatalf("store holds %v", got)
	}

	// An absolute DV path cannot be proven outside the table: refused.
	store = newAgedStore()
	table = rawTable(t, store, `{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}`, rawMetadata,
		`{"add":{"path":"part-0.parquet","partitionValues":{},"size":1,"modificationTime":0,"dataChange":true,"deletionVector":{"storageType":"p","pathOrInlineDv":"s3://b/t/dv.bin","offset":1,"sizeInBytes":10,"cardinality":1}}}`)
	if _, err := table.Vacuum(ctx, VacuumOptions{}); !errors.Is(err, errUnmappedReference) {
		t.Fatalf("err = %v, want a refusal of the absolute DV path", err)
	}
}
