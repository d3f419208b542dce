package ingest

import (
	"context"
	"testing"
	"time"
)

func TestExpireRemovesOnlyOldMergedFiles(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 1)
	raw, dead := newTables()
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for day := 0; day < 3; day++ {
		produce(t, brokers, rec("srv.a.t", 0, "k", pgEvent("t", day, 1, uint64(day))))
		cfg := testConfig(brokers, `srv\..*`)
		cfg.Now = func() time.Time { return t0.Add(time.Duration(day) * 24 * time.Hour) }
		if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(3 * 24 * time.Hour)
	// Versions 1, 2, 3 hold days 0, 1, 2. Merged only through 1: day 1 is
	// old enough but not merged yet.
	rep, err := Expire(ctx, raw, 36*time.Hour, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FilesRemoved != 1 || rep.Rows != 1 {
		t.Fatalf("expire report = %+v, want 1 file of 1 row", rep)
	}
	rows := readTable(t, raw, RawSchema())
	if len(rows) != 2 {
		t.Fatalf("rows left = %d, want 2", len(rows))
	}
	for _, r := range rows {
		if r["offset"].(int64) == 0 {
			t.Errorf("day 0 row still there")
		}
	}
	// Nothing more is old enough and merged.
	rep, err = Expire(ctx, raw, 36*time.Hour, 3, now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FilesRemoved != 1 {
		t.Errorf("second expire removed %d files, want 1 (day 1)", rep.FilesRemoved)
	}
}
