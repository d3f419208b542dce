package workload

import (
	"context"
	"slices"
	"strings"
	"testing"
)

type recorder struct{ stmts []string }

func (r *recorder) Exec(_ context.Context, sql string) error {
	r.stmts = append(r.stmts, sql)
	return nil
}

func record(t *testing.T, d Dialect, seed uint64) []string {
	t.Helper()
	w := New(d, seed)
	r := &recorder{}
	if err := w.Setup(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background(), r, 300); err != nil {
		t.Fatal(err)
	}
	return r.stmts
}

// TestSameSeedSameStatements: a seed replays the workload exactly.
func TestSameSeedSameStatements(t *testing.T) {
	for _, d := range []Dialect{Postgres, MariaDB} {
		a, b := record(t, d, 42), record(t, d, 42)
		if !slices.Equal(a, b) {
			t.Errorf("%s: seed 42 gave different statements on two runs", d)
		}
		if c := record(t, d, 43); slices.Equal(a, c) {
			t.Errorf("%s: seeds 42 and 43 gave the same statements", d)
		}
	}
}

// TestOperationMix: a few hundred operations exercise every kind of write.
func TestOperationMix(t *testing.T) {
	w := New(Postgres, 7)
	if err := w.Run(context.Background(), &recorder{}, 400); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	for name, n := range map[string]int{
		"inserts": st.Inserts, "reinserts": st.Reinserts, "updates": st.Updates, "toast updates": st.ToastUpdates,
		"key changes": st.KeyChanges, "deletes": st.Deletes, "transactions": st.Transactions, "rollbacks": st.Rollbacks,
	} {
		if n == 0 {
			t.Errorf("no %s in 400 operations: %+v", name, st)
		}
	}
}

// TestDDLReplaysAndTracksColumns: schema changes are part of the seeded
// sequence, change the tables' columns, and mark the live rows of a column
// added with a DEFAULT until they change.
func TestDDLReplaysAndTracksColumns(t *testing.T) {
	for _, d := range []Dialect{Postgres, MariaDB} {
		run := func(seed uint64) (*Workload, []string) {
			w := New(d, seed)
			r := &recorder{}
			if err := w.Setup(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if err := w.Run(context.Background(), r, 400); err != nil {
				t.Fatal(err)
			}
			if err := w.RunDDL(context.Background(), r, 30, 20); err != nil {
				t.Fatal(err)
			}
			return w, r.stmts
		}
		w, a := run(5)
		if _, b := run(5); !slices.Equal(a, b) {
			t.Errorf("%s: seed 5 with DDL gave different statements on two runs", d)
		}
		if got, want := w.Stats().Alters, len(alterations(d)); got != want {
			t.Errorf("%s: %d schema changes applied, want all %d", d, got, want)
		}
		var alters int
		for _, s := range a {
			if strings.HasPrefix(s, "ALTER TABLE") {
				alters++
			}
		}
		if alters != len(alterations(d)) {
			t.Errorf("%s: %d ALTER statements, want %d", d, alters, len(alterations(d)))
		}
		types := w.Tables()[0]
		if c := types.Columns[len(types.Columns)-1]; c.Name != "c_added" && c.Name != "c_added_dflt" {
			t.Errorf("%s: last column of e2e_types is %s, want an added one", d, c.Name)
		}
		if len(w.LakeNulls("e2e_types")) == 0 {
			t.Errorf("%s: no rows of e2e_types await their default in the lake", d)
		}
		for key, cols := range w.LakeNulls("e2e_textkey") {
			if strings.Contains(key, "'") || !slices.Equal(cols, []string{"extra"}) {
				t.Errorf("%s: LakeNulls(e2e_textkey)[%q] = %v, want unquoted key and [extra]", d, key, cols)
			}
		}
	}
}
