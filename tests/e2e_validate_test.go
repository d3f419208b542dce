package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
)

// TestValidateCompositeDateKey runs validate --table on a table keyed by
// (date, text): keys with no plain SQL literal, so --repair selects the
// differing chunks by key range at the source (row-value comparisons of
// quoted literals, one of them holding a quote) and keeps exactly the
// differing keys. A source row changed after the load is a difference
// validate must find too (the lake is behind), and the repair must fix it.
func TestValidateCompositeDateKey(t *testing.T) {
	_, dsn := newPostgresDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`CREATE TABLE events (day date, tag text, n bigint NOT NULL, note text, PRIMARY KEY (day, tag))`,
		`INSERT INTO events SELECT date '2024-01-01' + (g / 4), 'tag''' || (g % 4), g, 'note ' || g FROM generate_series(0, 399) g`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	dir := t.TempDir()
	cfg, err := jobs.ParseConfig([]byte(fmt.Sprintf("warehouse: %s\nsources:\n  - {name: pg, type: postgres, dsn: '${V_DSN}'}\n", dir)),
		func(k string) (string, bool) { return dsn, k == "V_DSN" })
	if err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	name := db + ".public.events"
	logger := e2eLogger(t)
	if _, err := jobs.Snapshot(ctx, cfg, jobs.SnapshotOptions{SnapshotID: "load", Tables: []string{name}, NoCaptureCheck: true}, logger); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if _, err := jobs.Merge(ctx, cfg, nil, logger); err != nil {
		t.Fatalf("merge: %v", err)
	}
	check := func(repair bool) (*jobs.TableCheck, error) {
		return jobs.CheckTable(ctx, cfg, jobs.TableCheckOptions{Table: name, Repair: repair, RangeRows: 60}, logger)
	}
	if res, err := check(false); err != nil || !res.Equal {
		t.Fatalf("after load: %v %+v", err, res)
	}

	// Lake: drop (2024-01-10, tag'1). Source: change (2024-03-01, tag'2)
	// after the load (no capture runs, so the lake never sees it).
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	scd1 := lakelog.Open(blob.Sub(store, merge.DefaultLocation("tables", schemas.TableID{Database: db, Schema: "public", Table: "events"})), lakelog.Options{})
	dropRow(t, scd1, func(r []any) bool {
		d, _ := r[0].(time.Time)
		return d.Equal(time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)) && r[1] == "tag'1"
	})
	if _, err := conn.Exec(ctx, `UPDATE events SET note = 'changed' WHERE day = '2024-03-01' AND tag = 'tag''2'`); err != nil {
		t.Fatal(err)
	}

	res, err := check(false)
	if !errors.Is(err, jobs.ErrTableDiffers) {
		t.Fatalf("after changes: err %v, want ErrTableDiffers", err)
	}
	var got []string
	for _, d := range res.Differing {
		for _, k := range d.Keys {
			got = append(got, k.Kind+" "+strings.Join(k.Key, "|"))
		}
	}
	want := []string{"missing_in_lake 2024-01-10|tag'1", "changed 2024-03-01|tag'2"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("differing keys %q, want %q", got, want)
	}
	if !res.LakeBehind {
		t.Error("the lake merged only the load: it must show as behind the source position")
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil || !strings.Contains(text.String(), "DIFFERENT: 2 of") {
		t.Errorf("text output (%v):\n%s", err, text.String())
	}

	res, err = check(true)
	if err != nil {
		t.Fatalf("repair: %v", err)
	}
	if r := res.Repair; r == nil || r.ReloadedRows != 2 || r.DeletedKeys != 0 || !strings.Contains(r.Where, `("day", "tag") > (`) {
		t.Fatalf("repair %+v: want 2 rows reloaded by key range", r)
	}
	if res, err := check(false); err != nil || !res.Equal {
		t.Fatalf("after repair: %v %+v", err, res)
	}
}

func dropRow(t *testing.T, tbl *lakelog.Table, drop func([]any) bool) {
	t.Helper()
	ctx := context.Background()
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := snap.Begin("DELETE")
	dropped := 0
	for _, f := range snap.Files() {
		rows, err := dv.ReadFile(ctx, tbl.Store(), nil, f, snap.Schema())
		if err != nil {
			t.Fatal(err)
		}
		w, err := datafile.NewWriter(snap.Schema(), datafile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, ok := rows.Next()
			if !ok {
				break
			}
			if drop(r) {
				dropped++
				continue
			}
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		add, err := w.Finish(ctx, tbl.Store(), "")
		if err != nil {
			t.Fatal(err)
		}
		tx.RemoveFile(f, true)
		tx.Add(add)
	}
	if dropped != 1 {
		t.Fatalf("dropped %d rows, want 1", dropped)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
