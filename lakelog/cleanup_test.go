package lakelog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// cleanupBase is commit 0's modification time; commit v is v days later.
var cleanupBase = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// cleanupTable writes commits 0..10 through the lakelog API with a
// checkpoint every 3 versions (3, 6, 9), one new file per commit, and ages
// commit v to cleanupBase + v days. It also drops a .crc file and three log
// compaction files into _delta_log/.
func cleanupTable(t *testing.T, store *agedStore) *Table {
	t.Helper()
	ctx := context.Background()
	table := Open(store, Options{CheckpointInterval: 3, Now: fixedClock(cleanupBase)})
	if _, err := table.Create(ctx, Metadata{SchemaString: testSchema}, Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 10; v++ {
		commitTx(t, table, func(tx *Transaction) {
			tx.Add(&Add{Path: fmt.Sprintf("part-%02d.parquet", v), Size: 1, ModificationTime: 1, DataChange: true})
		})
	}
	for _, k := range []string{
		"_delta_log/00000000000000000002.crc",
		"_delta_log/00000000000000000001.00000000000000000004.compacted.json",
		"_delta_log/00000000000000000006.00000000000000000008.compacted.json",
		"_delta_log/00000000000000000007.00000000000000000009.compacted.json",
	} {
		putFile(t, store, k, 1)
	}
	for v := int64(0); v <= 10; v++ {
		store.age(fmt.Sprintf("_delta_log/%020d.json", v), cleanupBase.Add(time.Duration(v)*24*time.Hour))
	}
	return table
}

func cleanupKeys(r *CleanupReport) []string {
	var keys []string
	for _, f := range r.Files {
		keys = append(keys, strings.TrimPrefix(f.Key, "_delta_log/"))
	}
	return keys
}

// snapshotFiles returns the active paths at every version from..to.
func snapshotFiles(t *testing.T, table *Table, from, to int64) map[int64][]string {
	t.Helper()
	out := map[int64][]string{}
	for v := from; v <= to; v++ {
		s, err := table.SnapshotAt(context.Background(), v)
		if err != nil {
			t.Fatalf("snapshot at %d: %v", v, err)
		}
		for _, a := range s.Files() {
			out[v] = append(out[v], a.Path)
		}
	}
	return out
}

// The cutoff: now - 30 days = 2026-01-08T13:00Z, truncated to midnight
// 2026-01-08T00:00Z. Commit 6 (2026-01-07T12:00) is the newest at or
// before it, so the cutoff checkpoint is 6.
var cleanupNow = cleanupBase.Add(37*24*time.Hour + time.Hour)

var wantCleanup = []string{
	"00000000000000000000.json",
	"00000000000000000001.00000000000000000004.compacted.json",
	"00000000000000000001.json",
	"00000000000000000002.crc",
	"00000000000000000002.json",
	"00000000000000000003.checkpoint.parquet",
	"00000000000000000003.json",
	"00000000000000000004.json",
	"00000000000000000005.json",
	"00000000000000000006.00000000000000000008.compacted.json",
}

func TestCleanupMetadata(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := cleanupTable(t, store)
	before := storeKeys(t, store)
	wantFiles := snapshotFiles(t, table, 6, 10)

	dry, err := table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupNow)})
	if err != nil {
		t.Fatal(err)
	}
	if got := cleanupKeys(dry); !slices.Equal(got, wantCleanup) {
		t.Fatalf("dry run files =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantCleanup, "\n"))
	}
	wantCutoff := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	if !dry.DryRun || dry.Deleted != 0 || dry.CheckpointVersion != 6 || !dry.Cutoff.Equal(wantCutoff) || dry.Retention != 30*24*time.Hour {
		t.Fatalf("dry run report = %+v", dry)
	}
	if got := storeKeys(t, store); !slices.Equal(got, before) {
		t.Fatal("dry run changed the store")
	}

	r, err := table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupNow), Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := cleanupKeys(r); !slices.Equal(got, wantCleanup) || r.Deleted != len(wantCleanup) {
		t.Fatalf("executed files = %v (deleted %d), want the dry run's %v", got, r.Deleted, wantCleanup)
	}
	checkCleanedTable(t, table, store, wantFiles)

	again, err := table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupNow), Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Files) != 0 || again.CheckpointVersion != 6 {
		t.Fatalf("second cleanup = %+v", again)
	}
}

// checkCleanedTable checks the state after cleaning up to checkpoint 6:
// versions 6..10 read as before, 5 is refused, _last_checkpoint and the
// checkpoint's own commit survive.
func checkCleanedTable(t *testing.T, table *Table, store *agedStore, wantFiles map[int64][]string) {
	t.Helper()
	ctx := context.Background()
	latest, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatalf("latest snapshot after cleanup: %v", err)
	}
	if latest.Version() != 10 || len(latest.Files()) != 10 {
		t.Fatalf("latest = version %d with %d files, want 10 and 10", latest.Version(), len(latest.Files()))
	}
	for v, want := range wantFiles {
		s, err := table.SnapshotAt(ctx, v)
		if err != nil {
			t.Fatalf("snapshot at %d after cleanup: %v", v, err)
		}
		var got []string
		for _, a := range s.Files() {
			got = append(got, a.Path)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("version %d files = %v, want %v", v, got, want)
		}
	}
	_, err = table.SnapshotAt(ctx, 5)
	if !errors.Is(err, errVersionsNotContiguous) {
		t.Fatalf("snapshot at 5 after cleanup: err = %v, want errVersionsNotContiguous", err)
	}
	if ev, err := table.EarliestVersion(ctx); err != nil || ev != 6 {
		t.Fatalf("EarliestVersion = %d, %v; want 6", ev, err)
	}
	keys := storeKeys(t, store)
	for _, k := range []string{"_delta_log/_last_checkpoint", "_delta_log/00000000000000000006.json", "_delta_log/00000000000000000006.checkpoint.parquet", "_delta_log/00000000000000000009.checkpoint.parquet", "_delta_log/00000000000000000007.00000000000000000009.compacted.json"} {
		if !slices.Contains(keys, k) {
			t.Fatalf("%s was deleted", k)
		}
	}
}

func TestCleanupMetadataRerunAfterPartialDeletion(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := cleanupTable(t, store)
	wantFiles := snapshotFiles(t, table, 6, 10)
	store.failDelete = "_delta_log/00000000000000000003.checkpoint.parquet"
	r, err := table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupNow), Execute: true})
	if err == nil || !strings.Contains(err.Error(), "00000000000000000003.checkpoint.parquet") {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	if r == nil || r.Deleted != 5 {
		t.Fatalf("report after failure = %+v, want Deleted 5", r)
	}
	// Half-cleaned, the kept part still reads.
	if _, err := table.Snapshot(ctx); err != nil {
		t.Fatalf("latest snapshot after partial cleanup: %v", err)
	}
	store.failDelete = ""
	r, err = table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupNow), Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cleanupKeys(r), wantCleanup[5:]; !slices.Equal(got, want) {
		t.Fatalf("rerun files = %v, want %v", got, want)
	}
	checkCleanedTable(t, table, store, wantFiles)
}

func TestCleanupMetadataNothingExpired(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := cleanupTable(t, store)
	// now - 30 days = 2026-01-03T13:00 -> cutoff 2026-01-03T00:00: commit 1
	// is the cutoff commit, and no checkpoint precedes it.
	r, err := table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupBase.Add(32*24*time.Hour + time.Hour)), Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.CheckpointVersion != -1 || len(r.Files) != 0 {
		t.Fatalf("report = %+v, want nothing to do", r)
	}
	if ev, err := table.EarliestVersion(ctx); err != nil || ev != 0 {
		t.Fatalf("EarliestVersion = %d, %v; want 0", ev, err)
	}
}

func TestCleanupMetadataClockSkew(t *testing.T) {
	// Commit 4's file claims to be from the future (a writer with a fast
	// clock). Commit times are monotonic, so 5 and 6 count as no older than
	// 4: the cutoff commit is 3 and so is the cutoff checkpoint.
	ctx := context.Background()
	store := newAgedStore()
	table := cleanupTable(t, store)
	store.age("_delta_log/00000000000000000004.json", cleanupBase.Add(20*24*time.Hour))
	r, err := table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupNow)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"00000000000000000000.json",
		"00000000000000000001.00000000000000000004.compacted.json",
		"00000000000000000001.json",
		"00000000000000000002.crc",
		"00000000000000000002.json",
	}
	if r.CheckpointVersion != 3 || !slices.Equal(cleanupKeys(r), want) {
		t.Fatalf("checkpoint %d, files %v; want 3 and %v", r.CheckpointVersion, cleanupKeys(r), want)
	}
}

func TestCleanupMetadataTableRetention(t *testing.T) {
	ctx := context.Background()
	store := newAgedStore()
	table := Open(store, Options{CheckpointInterval: 2, Now: fixedClock(cleanupBase)})
	meta := Metadata{SchemaString: testSchema, Configuration: map[string]string{"delta.logRetentionDuration": "interval 2 days"}}
	if _, err := table.Create(ctx, meta, Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 4; v++ {
		commitTx(t, table, func(tx *Transaction) {
			tx.Add(&Add{Path: fmt.Sprintf("part-%d.parquet", v), Size: 1, ModificationTime: 1, DataChange: true})
		})
	}
	for v := int64(0); v <= 4; v++ {
		store.age(fmt.Sprintf("_delta_log/%020d.json", v), cleanupBase.Add(time.Duration(v)*24*time.Hour))
	}
	// now = base + 5d; - 2 days = 2026-01-04T12:00 -> 2026-01-04T00:00:
	// commit 2 (2026-01-03T12:00) is the cutoff commit, checkpoint 2.
	r, err := table.CleanupMetadata(ctx, CleanupOptions{Now: fixedClock(cleanupBase.Add(5 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"00000000000000000000.json", "00000000000000000001.json"}
	if r.Retention != 48*time.Hour || r.CheckpointVersion != 2 || !slices.Equal(cleanupKeys(r), want) {
		t.Fatalf("retention %s, checkpoint %d, files %v; want 48h, 2, %v", r.Retention, r.CheckpointVersion, cleanupKeys(r), want)
	}
}

func TestParseCleanupNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind string
		v    int64
	}{
		{"00000000000000000007.crc", "crc", 7},
		{"00000000000000000003.00000000000000000005.compacted.json", "compaction", 3},
		{"00000000000000000005.00000000000000000003.compacted.json", "", 0},
		{"0000000000000000007.crc", "", 0},
		{"_last_checkpoint", "", 0},
		{"00000000000000000007.json.tmp", "", 0},
	} {
		kind, v := "", int64(0)
		if x, ok := parseVersionedName(tc.name, ".crc"); ok {
			kind, v = "crc", x
		} else if x, ok := parseCompactionName(tc.name); ok {
			kind, v = "compaction", x
		}
		if kind != tc.kind || v != tc.v {
			t.Errorf("%s: kind %q version %d, want %q %d", tc.name, kind, v, tc.kind, tc.v)
		}
	}
}
