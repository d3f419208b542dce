package workload

import (
	"context"
	"slices"
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
