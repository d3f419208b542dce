package merge

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/schemas"
)

// dumpFiles prints a table's protocol and, per data file (sorted by its
// first key), its physical row count, its DV's storage type and
// cardinality, and the live rows its DV leaves, which must add up.
func dumpFiles(ctx context.Context, tbl *lakelog.Table) (string, error) {
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		return "", err
	}
	p := snap.Protocol()
	var b strings.Builder
	fmt.Fprintf(&b, "protocol (%d,%d) reader %v writer %v; delta.enableDeletionVectors=%s\n", p.MinReaderVersion, p.MinWriterVersion,
		p.ReaderFeatures, p.WriterFeatures, snap.Metadata().Configuration["delta.enableDeletionVectors"])
	dvs := dv.NewReader(tbl.Store())
	var lines []string
	for _, f := range snap.Files() {
		st, err := f.ParsedStats()
		if err != nil || st == nil {
			return "", fmt.Errorf("file %s: stats %v", f.Path, err)
		}
		deleted, err := dvs.Read(ctx, f.DeletionVector)
		if err != nil {
			return "", err
		}
		live := 0
		if err := readRows(ctx, tbl.Store(), []*lakelog.Add{f}, snap.Schema(), func([]any) { live++ }); err != nil {
			return "", err
		}
		line := fmt.Sprintf("rows %d", st.NumRecords)
		if d := f.DeletionVector; d != nil {
			tight := "unset"
			if st.TightBounds != nil {
				tight = fmt.Sprint(*st.TightBounds)
			}
			line += fmt.Sprintf(" dv %s card %d positions %v tightBounds %s", d.StorageType, d.Cardinality, deleted, tight)
		}
		line += fmt.Sprintf(" live %d", live)
		minKey := fmt.Sprint(st.MinValues)
		lines = append(lines, minKey+" "+line)
	}
	slices.Sort(lines)
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, "] ")
		b.WriteString(rest + "\n")
	}
	return b.String(), nil
}

// TestDeletionVectorsCheckpointAndVacuum: DV descriptors survive a
// checkpoint, and Vacuum keeps the DV files live adds name and deletes
// the ones only expired removes name, after which the table still reads
// the same rows.
func TestDeletionVectorsCheckpointAndVacuum(t *testing.T) {
	ctx := context.Background()
	env := newSCD1Env(t)
	env.cfg.TargetFileRows = 50
	id := schemas.TableID{Database: "db", Schema: "public", Table: "t"}
	env.cfg.Tables[id.String()] = TableConfig{DeletionVectors: true}
	cols := []schemas.Column{{Name: "id", Type: schemas.Int64}, {Name: "v", Type: schemas.String, Optional: true}}
	lsn := uint64(0)
	merge := func(op schemas.Op, v string, keys ...int64) *TableReport {
		t.Helper()
		var cs []*schemas.Change
		for _, k := range keys {
			lsn++
			cs = append(cs, &schemas.Change{Table: id, Op: op, Columns: cols, Key: []string{"id"}, After: []any{k, fmt.Sprintf("%s%d", v, k)},
				Source: schemas.Source{Connector: schemas.ConnectorPostgres, DB: "db", Schema: "public", Table: "t", TsMs: 1700000000000, CommitLSN: lsn, LSN: lsn}})
		}
		if _, err := env.raw.append(ctx, cs, true); err != nil {
			t.Fatal(err)
		}
		rep, err := Run(ctx, env.raw.table, env.warehouse, env.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &rep.Tables[0]
	}
	var all []int64
	for k := range int64(100) {
		all = append(all, k)
	}
	merge(schemas.OpCreate, "a", all...)
	if tr := merge(schemas.OpUpdate, "b", 3, 70); tr.FilesDeletionVectored != 2 {
		t.Fatalf("first update: %d files got a DV, want 2", tr.FilesDeletionVectored)
	}
	if tr := merge(schemas.OpUpdate, "c", 4); tr.FilesDeletionVectored != 1 {
		t.Fatalf("second update: %d files got a DV, want 1", tr.FilesDeletionVectored)
	}
	want := map[int64]string{}
	for _, k := range all {
		want[k] = fmt.Sprintf("a%d", k)
	}
	want[3], want[70], want[4] = "b3", "b70", "c4"

	store := blob.Sub(env.warehouse, DefaultLocation(env.cfg.TablesRoot, id))
	check := func(what string) *lakelog.Snapshot {
		t.Helper()
		snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := map[int64]string{}
		if err := readRows(ctx, store, snap.Files(), snap.Schema(), func(row []any) {
			if _, dup := got[row[0].(int64)]; dup {
				t.Errorf("%s: key %d twice", what, row[0])
			}
			got[row[0].(int64)] = row[1].(string)
		}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s: %d rows, want %d: %v", what, len(got), len(want), got)
		}
		return snap
	}
	before := check("before checkpoint")
	if err := lakelog.Open(store, lakelog.Options{}).Checkpoint(ctx, before); err != nil {
		t.Fatal(err)
	}
	// Only the checkpoint and later commits: remove the JSON commits it covers.
	for v := int64(0); v <= before.Version(); v++ {
		if err := store.Delete(ctx, fmt.Sprintf("_delta_log/%020d.json", v)); err != nil {
			t.Fatal(err)
		}
	}
	after := check("from checkpoint")
	keys := func(s *lakelog.Snapshot) []string {
		var out []string
		for _, f := range s.Files() {
			out = append(out, fmt.Sprintf("%s %+v", f.Path, f.DeletionVector.UniqueID()))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(keys(before), keys(after)) {
		t.Fatalf("files from checkpoint %v, want %v", keys(after), keys(before))
	}

	// Two DV files were written (one per DV commit); the first file's DV
	// from the first commit is superseded by the second commit's.
	var dvFiles []string
	for obj, err := range store.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(obj.Key, "deletion_vector_") {
			dvFiles = append(dvFiles, obj.Key)
		}
	}
	live := map[string]bool{}
	for _, f := range after.Files() {
		if k, err := f.DeletionVector.StoreKey(); err == nil && k != "" {
			live[k] = true
		}
	}
	if len(dvFiles) != 2 || len(live) != 2 {
		t.Fatalf("DV files %v, live %v: want 2 files, both live (the second commit's file and the first's DV of the other data file)", dvFiles, live)
	}
	// A third update of the second data file supersedes the first DV file.
	if tr := merge(schemas.OpUpdate, "d", 71); tr.FilesDeletionVectored != 1 {
		t.Fatalf("third update: %d files got a DV, want 1", tr.FilesDeletionVectored)
	}
	want[71] = "d71"
	rep, err := lakelog.Open(store, lakelog.Options{}).Vacuum(ctx, lakelog.VacuumOptions{Retention: time.Hour, Execute: true,
		Now: func() time.Time { return time.Now().Add(48 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	var vacuumedDV []string
	for _, f := range rep.Files {
		if strings.HasPrefix(f.Key, "deletion_vector_") {
			vacuumedDV = append(vacuumedDV, f.Key)
		}
	}
	if len(vacuumedDV) != 1 {
		t.Fatalf("vacuumed DV files %v, want the one no live file names", vacuumedDV)
	}
	check("after vacuum")
}

// dvCrashScript exercises deletion vectors (table a) beside copy-on-write
// (table b): updates, deletes, an insert in a DV'd file's range, a late
// older event, TOAST (rewrite), a key change.
var dvCrashScript = []string{
	"schema a\nid int32 key\nv string\nn int64",
	"schema b\nk string key\nx double",
	"a c 10 id=1 v=a n=1\na c 11 id=2 v=b n=2\na c 12 id=3 v=c n=3\na c 13 id=4 v=d n=4\na c 14 id=5 v=e n=5\n" +
		"a c 15 id=6 v=f n=6\na c 16 id=7 v=g n=7\na c 17 id=8 v=h n=8\na c 18 id=9 v=i n=9\na c 19 id=10 v=j n=10\n" +
		"a c 20 id=11 v=k n=11\na c 21 id=12 v=l n=12\na c 22 id=13 v=m n=13\na c 23 id=14 v=n n=14\na c 24 id=15 v=o n=15\n" +
		"a c 25 id=16 v=p n=16\na c 26 id=17 v=q n=17\na c 27 id=18 v=r n=18\na c 28 id=19 v=s n=19\na c 29 id=20 v=t n=20\n" +
		"b c 30 k=p x=1.5",
	"a u 40 id=3 v=c2 n=33\na d 41 id=7\nb u 42 k=p x=2.5",
	"a u 35 id=3 v=late n=0\na u 50 id=12 v=l2 n=120\na c 51 id=21 v=u n=21",
	"a u 60 id=5 v=? n=55\na u 61 before(id=9) id=25 v=i2 n=99",
	"a u 70 id=14 v=n2 n=140\na d 71 id=15\nb c 72 k=q x=9",
}

// TestCrashTrialsDeletionVectors is TestCrashTrials with deletion vectors:
// a crash between the DV file, the tombstones and the commit must leave
// the same tables after the rerun.
func TestCrashTrialsDeletionVectors(t *testing.T) {
	setup := func(env *scd1Env) {
		env.cfg.Tables["db.public.a"] = TableConfig{DeletionVectors: true}
	}
	// The script must really write DVs: check the clean run's table a.
	clean := memblob.New()
	env := playScript(t, dvCrashScript, setup, clean, func(env *scd1Env) error {
		_, err := Run(context.Background(), env.raw.table, clean, env.cfg, nil)
		return err
	})
	snap, err := lakelog.Open(blob.Sub(clean, DefaultLocation(env.cfg.TablesRoot, tableIDOf("db.public.a"))), lakelog.Options{}).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(snap.Files(), func(f *lakelog.Add) bool { return f.DeletionVector != nil }) {
		t.Fatal("the script's final table a has no deletion vector")
	}
	crashTrials(t, dvCrashScript, setup)
}
