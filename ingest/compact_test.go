package ingest

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCompactKeepsRowsAndMergesFiles(t *testing.T) {
	ctx := context.Background()
	brokers := newCluster(t, 2)
	raw, dead := newTables()
	cfg := testConfig(brokers, `srv\..*`)
	for round := 0; round < 4; round++ {
		produce(t, brokers,
			rec("srv.a.t", int32(round%2), "k", pgEvent("t", round, 1, uint64(round))),
			rec("srv.b.u", 0, "k", pgEvent("u", round, 1, uint64(round))))
		if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
			t.Fatal(err)
		}
	}
	before := positions(t, readTable(t, raw, RawSchema()))
	snap, err := raw.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(snap.Files()); n != 4 {
		t.Fatalf("files before = %d, want 4 (one per run)", n)
	}

	rep, err := Compact(ctx, raw, CompactOptions{TargetFileBytes: 1 << 20, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.FilesRemoved != 4 || len(rep.Files) != 1 || rep.Rows != 8 {
		t.Fatalf("compact report = %+v", rep)
	}
	if after := positions(t, readTable(t, raw, RawSchema())); !slices.Equal(after, before) {
		t.Fatalf("rows changed:\n got %v\nwant %v", after, before)
	}
	// The new file is sorted by topic first.
	rows := readTable(t, raw, RawSchema())
	var topics []string
	for _, r := range rows {
		topics = append(topics, r["topic"].(string))
	}
	if !slices.IsSorted(topics) {
		t.Errorf("compacted rows not sorted by topic: %v", topics)
	}
	// Both sides dataChange=false; the add is liquid-clustered.
	var sawAdd, sawRemove bool
	for c, err := range raw.Commits(ctx, rep.Commits[0]-1, rep.Commits[0]) {
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.Actions {
			if a.Add != nil {
				sawAdd = true
				if a.Add.DataChange || a.Add.ClusteringProvider != "liquid" {
					t.Errorf("add dataChange=%v clusteringProvider=%q", a.Add.DataChange, a.Add.ClusteringProvider)
				}
			}
			if a.Remove != nil {
				sawRemove = true
				if a.Remove.DataChange {
					t.Errorf("remove %s has dataChange=true", a.Remove.Path)
				}
			}
		}
	}
	if !sawAdd || !sawRemove {
		t.Errorf("compaction commit: add %v remove %v", sawAdd, sawRemove)
	}

	// Ingest goes on after (and beside) compaction.
	produce(t, brokers, &kgo.Record{Topic: "srv.a.t", Partition: 1, Value: pgEvent("t", 9, 9, 9)})
	if _, err := Run(ctx, cfg, raw, dead, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if got := len(readTable(t, raw, RawSchema())); got != 9 {
		t.Errorf("rows after compaction + ingest = %d, want 9", got)
	}
}
