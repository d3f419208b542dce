package lakelog

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

// TestReplay runs the golden files in testdata/replay. Commands:
//
//	commit [version=N]       input: JSON actions, one per line; written
//	                         verbatim as commit N (default: next version)
//	checkpoint version=N     input: JSON actions written verbatim as the v2
//	                         JSON checkpoint <N>.checkpoint.<uuid>.json
//	last-checkpoint          input: written verbatim as _last_checkpoint
//	delete key=K             deletes _delta_log/<K>
//	snapshot [version=N]     prints the reconciled state (or the error)
//	commits after=A upto=B   prints the versions Table.Commits yields
//
// The expected outputs were written by hand from PROTOCOL.md §Action
// Reconciliation, not copied from the reader's output.
func TestReplay(t *testing.T) {
	datadriven.Walk(t, "testdata/replay", func(t *testing.T, path string) {
		ctx := context.Background()
		store := memblob.New()
		table := Open(store, Options{})
		next := int64(0)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "commit":
				v := next
				if d.HasArg("version") {
					d.ScanArgs(t, "version", &v)
				}
				if err := store.PutIfAbsent(ctx, commitKey(v), []byte(d.Input+"\n")); err != nil {
					return "error: " + err.Error()
				}
				next = v + 1
				return fmt.Sprintf("committed %d", v)
			case "checkpoint":
				var v int64
				d.ScanArgs(t, "version", &v)
				key := fmt.Sprintf("%s%020d.checkpoint.0b1c2d3e-0000-4000-8000-000000000000.json", logDir, v)
				if err := store.Put(ctx, key, []byte(d.Input+"\n")); err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("checkpoint %d", v)
			case "last-checkpoint":
				if err := store.Put(ctx, lastCheckpointKey, []byte(d.Input)); err != nil {
					return "error: " + err.Error()
				}
				return "ok"
			case "delete":
				var k string
				d.ScanArgs(t, "key", &k)
				if err := store.Delete(ctx, logDir+k); err != nil {
					return "error: " + err.Error()
				}
				return "ok"
			case "snapshot":
				var s *Snapshot
				var err error
				if d.HasArg("version") {
					var v int64
					d.ScanArgs(t, "version", &v)
					s, err = table.SnapshotAt(ctx, v)
				} else {
					s, err = table.Snapshot(ctx)
				}
				if err != nil {
					return "error: " + describeErr(err)
				}
				return formatSnapshot(s)
			case "commits":
				var after, upTo int64
				d.ScanArgs(t, "after", &after)
				d.ScanArgs(t, "upto", &upTo)
				var b strings.Builder
				for c, err := range table.Commits(ctx, after, upTo) {
					if err != nil {
						fmt.Fprintf(&b, "error: %s\n", describeErr(err))
						break
					}
					op, _ := c.CommitInfo["operation"].(string)
					fmt.Fprintf(&b, "%d: %d actions op=%q\n", c.Version, len(c.Actions), op)
				}
				return b.String()
			default:
				t.Fatalf("unknown command %q", d.Cmd)
				return ""
			}
		})
	})
}

// describeErr prefixes an error with its sentinel class so golden files
// check the class, not only the wording.
func describeErr(err error) string {
	var uf *UnsupportedFeatureError
	switch {
	case errors.Is(err, ErrNoTable):
		return "[no table] " + err.Error()
	case errors.Is(err, errVersionsNotContiguous):
		return "[not contiguous] " + err.Error()
	case errors.As(err, &uf):
		return fmt.Sprintf("[unsupported %q reader=%t] %s", uf.Feature, uf.Reader, err)
	}
	return err.Error()
}

func formatSnapshot(s *Snapshot) string {
	var b strings.Builder
	p := s.Protocol()
	fmt.Fprintf(&b, "version: %d\n", s.Version())
	fmt.Fprintf(&b, "protocol: %d/%d reader=%v writer=%v\n", p.MinReaderVersion, p.MinWriterVersion, p.ReaderFeatures, p.WriterFeatures)
	m := s.Metadata()
	fmt.Fprintf(&b, "metadata: id=%s partitionColumns=%v configuration=%v\n", m.ID, m.PartitionColumns, m.Configuration)
	var names []string
	for _, f := range s.Schema().Fields {
		names = append(names, f.Name+":"+f.Type.TypeName())
	}
	fmt.Fprintf(&b, "schema: %s\n", strings.Join(names, " "))
	b.WriteString("files:\n")
	for _, a := range s.Files() {
		dec, err := a.DecodedPath()
		if err != nil {
			dec = "ERROR " + err.Error()
		}
		fmt.Fprintf(&b, "  %s", a.Path)
		if dec != a.Path {
			fmt.Fprintf(&b, " (decoded %q)", dec)
		}
		if a.DeletionVector != nil {
			fmt.Fprintf(&b, " dv=%s", a.DeletionVector.UniqueID())
		}
		fmt.Fprintf(&b, " size=%d", a.Size)
		for _, k := range slices.Sorted(maps.Keys(a.PartitionValues)) {
			v := "null"
			if pv := a.PartitionValues[k]; pv != nil {
				v = fmt.Sprintf("%q", *pv)
			}
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
		b.WriteByte('\n')
	}
	b.WriteString("tombstones:\n")
	for _, r := range s.Tombstones() {
		fmt.Fprintf(&b, "  %s", r.Path)
		if r.DeletionVector != nil {
			fmt.Fprintf(&b, " dv=%s", r.DeletionVector.UniqueID())
		}
		if r.DeletionTimestamp != nil {
			fmt.Fprintf(&b, " deletionTimestamp=%d", *r.DeletionTimestamp)
		}
		b.WriteByte('\n')
	}
	b.WriteString("txns:\n")
	for _, tx := range s.Txns() {
		fmt.Fprintf(&b, "  %s=%d\n", tx.AppID, tx.Version)
	}
	b.WriteString("domains:\n")
	for _, d := range s.Domains() {
		fmt.Fprintf(&b, "  %s: %s\n", d.Domain, d.Configuration)
	}
	return b.String()
}

// racyListStore drops one commit from the first listing, as a directory
// read racing with writers can: a newer commit listed, an older one missed.
type racyListStore struct {
	blob.Store
	drop  string
	lists atomic.Int64
}

func (s *racyListStore) List(ctx context.Context, prefix string) iter.Seq2[blob.Object, error] {
	first := s.lists.Add(1) == 1
	return func(yield func(blob.Object, error) bool) {
		for obj, err := range s.Store.List(ctx, prefix) {
			if first && err == nil && obj.Key == s.drop {
				continue
			}
			if !yield(obj, err) {
				return
			}
		}
	}
}

// createWithFiles creates table and commits n appends of one file each
// (versions 1 to n).
func createWithFiles(t *testing.T, table *Table, n int) {
	t.Helper()
	ctx := context.Background()
	snap, err := table.Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tx := snap.Begin("WRITE")
		tx.Add(&Add{Path: fmt.Sprintf("f%d.parquet", i), Size: 1, ModificationTime: 1, DataChange: true})
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if snap, err = table.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListingRaceGapIsRelisted: a listing that misses a commit between two
// it did list is read again, so Snapshot and Commits see every version; a
// gap that is really there is still an error.
func TestListingRaceGapIsRelisted(t *testing.T) {
	ctx := context.Background()
	mem := memblob.New()
	table := Open(mem, Options{})
	createWithFiles(t, table, 3)
	racy := &racyListStore{Store: mem, drop: commitKey(1)}
	got, err := Open(racy, Options{}).Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot over a racy listing: %v", err)
	}
	if got.Version() != 3 || len(got.Files()) != 3 {
		t.Fatalf("snapshot at %d with %d files, want 3 and 3", got.Version(), len(got.Files()))
	}
	if racy.lists.Load() < 2 {
		t.Fatalf("listed %d times, want a second listing", racy.lists.Load())
	}
	racy = &racyListStore{Store: mem, drop: commitKey(2)}
	n := 0
	for _, err := range Open(racy, Options{}).Commits(ctx, 0, -1) {
		if err != nil {
			t.Fatalf("commits over a racy listing: %v", err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d commits after 0, want 3", n)
	}
	// A real gap stays an error.
	if err := mem.Delete(ctx, commitKey(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(mem, Options{}).Snapshot(ctx); !errors.Is(err, errVersionsNotContiguous) {
		t.Fatalf("snapshot over a real gap: %v, want errVersionsNotContiguous", err)
	}
}

// TestListingRaceMissesFirstCommit: the commit a racing listing misses can
// be the first one its reader needs, with nothing listed below it to show
// a gap: the one right after `after` for Commits (merge reading what ingest
// is writing), or the one right after the newest checkpoint when the log
// before it was cleaned up. Both are listed again.
func TestListingRaceMissesFirstCommit(t *testing.T) {
	ctx := context.Background()
	mem := memblob.New()
	table := Open(mem, Options{CheckpointInterval: 5})
	createWithFiles(t, table, 7)
	if _, err := mem.Stat(ctx, logDir+"00000000000000000005.checkpoint.parquet"); err != nil {
		t.Fatalf("checkpoint at 5: %v", err)
	}

	racy := &racyListStore{Store: mem, drop: commitKey(4)}
	var versions []int64
	for c, err := range Open(racy, Options{}).Commits(ctx, 3, -1) {
		if err != nil {
			t.Fatalf("commits after 3 over a listing missing 4: %v", err)
		}
		versions = append(versions, c.Version)
	}
	if fmt.Sprint(versions) != "[4 5 6 7]" {
		t.Fatalf("commits after 3 = %v, want [4 5 6 7]", versions)
	}

	// Cleaned up to the checkpoint, without a hint: the listing from 0
	// finds checkpoint 5 and, having missed 6, commit 7 only.
	for _, k := range []string{logDir + "_last_checkpoint", commitKey(0), commitKey(1), commitKey(2), commitKey(3), commitKey(4), commitKey(5)} {
		if err := mem.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	racy = &racyListStore{Store: mem, drop: commitKey(6)}
	got, err := Open(racy, Options{}).Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot over a listing missing the commit after the checkpoint: %v", err)
	}
	if got.Version() != 7 || len(got.Files()) != 7 {
		t.Fatalf("snapshot at %d with %d files, want 7 and 7", got.Version(), len(got.Files()))
	}
}
