package merge

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob/faultblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

// TestUnreadableTableFailsAlone: when one SCD1 table's log cannot be read
// (the store fails every request under its prefix), that table fails with
// an error naming it and the other tables still merge; a rerun once the
// store recovers catches the failed table up. Found by the soak run
// (TestFaultObjectStore): one table's transient read error failed the
// whole run before any table merged, so under a steady rate of store
// errors no run got through.
func TestUnreadableTableFailsAlone(t *testing.T) {
	ctx := context.Background()
	script := []string{
		"schema a\nid int32 key\nv string",
		"schema b\nk string key\nx double",
		"a c 10 id=1 v=a\nb c 11 k=p x=1",
	}
	store := memblob.New()
	env := playScript(t, script, nil, store, func(env *scd1Env) error {
		_, err := Run(ctx, env.raw.table, store, env.cfg, nil)
		return err
	})
	if _, err := env.raw.append(ctx, parseEvents(t, env, "a c 20 id=2 v=b\nb c 21 k=q x=2"), true); err != nil {
		t.Fatal(err)
	}

	aLoc := DefaultLocation(env.cfg.TablesRoot, tableIDOf("db.public.a"))
	broken := faultblob.New(store, rand.New(rand.NewPCG(1, 2)), faultblob.Rule{KeyPrefix: aLoc + "/", FailBefore: 1})
	rep, err := Run(ctx, env.raw.table, broken, env.cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "table db.public.a") || rep == nil {
		t.Fatalf("report %v, err %v; want a report and an error naming table db.public.a", rep, err)
	}
	if tr := tableReport(t, rep, "db.public.a"); tr.Err == nil {
		t.Errorf("table a's report has no error: %+v", tr)
	}
	if tr := tableReport(t, rep, "db.public.b"); tr.Err != nil || tr.RowsInserted != 1 {
		t.Errorf("table b's report %+v, want 1 row inserted and no error", tr)
	}
	if got, want := mergeTxns(t, env, store, "db.public.b"), []int64{1, 2}; !slices.Equal(got, want) {
		t.Errorf("table b's merge txns %v, want %v", got, want)
	}
	if got, want := mergeTxns(t, env, store, "db.public.a"), []int64{1}; !slices.Equal(got, want) {
		t.Errorf("table a's merge txns %v, want %v", got, want)
	}

	// The store recovers: the rerun merges a alone.
	rep, err = Run(ctx, env.raw.table, store, env.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tr := tableReport(t, rep, "db.public.a"); tr.RowsInserted != 1 {
		t.Errorf("rerun: table a's report %+v, want 1 row inserted", tr)
	}
	for _, tr := range rep.Tables {
		if tr.Table == "db.public.b" && tr.ChangesRead != 0 {
			t.Errorf("rerun: table b read %d changes again", tr.ChangesRead)
		}
	}
	if got := dumpRows(t, env, store, "db.public.a", "db.public.b"); strings.Count(got, "(2 rows)") != 2 {
		t.Errorf("tables after the rerun:\n%s\nwant 2 rows each", got)
	}
}
