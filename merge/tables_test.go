package merge

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

func TestTables(t *testing.T) {
	ctx := context.Background()
	env := newSCD1Env(t)
	a := schemas.TableID{Database: "app", Schema: "public", Table: "a"}
	b := schemas.TableID{Database: "app", Schema: "sales", Table: "b"}
	env.cfg.Tables[b.String()] = TableConfig{Location: "custom/b"}
	cols := []schemas.Column{{Name: "id", Type: schemas.Int64}}
	ch := func(id schemas.TableID, lsn uint64) *schemas.Change {
		return &schemas.Change{Table: id, Op: schemas.OpCreate, Columns: cols, Key: []string{"id"}, After: []any{int64(lsn)},
			Source: schemas.Source{Connector: schemas.ConnectorPostgres, Name: "srv", DB: id.Database, Schema: id.Schema, Table: id.Table, TsMs: 1700000000000 + int64(lsn), CommitLSN: lsn, LSN: lsn}}
	}

	got, err := Tables(ctx, env.warehouse, env.cfg)
	if err != nil || len(got) != 0 {
		t.Fatalf("before any merge: %v, %v; want none", got, err)
	}
	if _, err := env.raw.append(ctx, []*schemas.Change{ch(a, 10), ch(b, 11)}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, env.raw.table, env.warehouse, env.cfg, nil); err != nil {
		t.Fatal(err)
	}
	got, err = Tables(ctx, env.warehouse, env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		source, location, topic string
		ms                      int64
	}{
		{"app.public.a", "lake/app/a", "srv.public.a", 1700000000010},
		{"app.sales.b", "custom/b", "srv.sales.b", 1700000000011},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tables %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Source.String() != w.source || g.Location != w.location || len(g.Topics) != 1 || g.Topics[0] != w.topic ||
			g.Version != 1 || g.MergedRawVersion != 1 || g.Progress.RawVersion != 1 || g.Progress.SourceTsMs != w.ms || g.Err != nil {
			t.Errorf("table %d = %+v, want source %s location %s topic %s version 1 (create, merge) merged raw 1 sourceTs %d", i, g, w.source, w.location, w.topic, w.ms)
		}
	}

	only := env.cfg
	only.Only = []string{"app.sales.b"}
	got, err = Tables(ctx, env.warehouse, only)
	if err != nil || len(got) != 1 || got[0].Source.String() != "app.sales.b" {
		t.Errorf("Only b: %+v, %v", got, err)
	}
}
