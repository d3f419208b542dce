package lakelog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

func benchStores() map[string]func(b *testing.B) blob.Store {
	return map[string]func(b *testing.B) blob.Store{
		"memblob": func(*testing.B) blob.Store { return memblob.New() },
		"fileblob": func(b *testing.B) blob.Store {
			s, err := fileblob.New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
}

func benchAdd(i int64) *Add {
	return &Add{Path: fmt.Sprintf("part-%08d.parquet", i), Size: 4096, ModificationTime: 1, DataChange: true,
		Stats: `{"numRecords":100,"minValues":{"id":1},"maxValues":{"id":100},"nullCount":{"id":0}}`}
}

// benchPutIfAbsent is the baseline of the commit benchmarks: the store's
// own conditional write of one commit-sized object at a new key, the floor
// under any commit's latency.
func benchPutIfAbsent(b *testing.B, store blob.Store) {
	ctx := context.Background()
	data := make([]byte, 600) // about one add + txn + commitInfo as JSON
	for i := 0; b.Loop(); i++ {
		if err := store.PutIfAbsent(ctx, fmt.Sprintf("_delta_log/%020d.json", i), data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit measures one writer's commit latency: a blind append of
// one file plus a txn, from an up-to-date snapshot (the snapshot read is not
// timed). Every 10th commit includes writing a checkpoint. Baseline: the
// store's PutIfAbsent of one commit-sized object.
func BenchmarkCommit(b *testing.B) {
	for name, newStore := range benchStores() {
		b.Run(name+"/baseline-put-if-absent", func(b *testing.B) { benchPutIfAbsent(b, newStore(b)) })
		for _, interval := range []int{10, 1 << 30} {
			bname := name + "/checkpoint-every-10"
			if interval > 10 {
				bname = name + "/no-checkpoints"
			}
			b.Run(bname, func(b *testing.B) {
				ctx := context.Background()
				newTable := func() (*Table, *Snapshot) {
					table := Open(newStore(b), Options{CheckpointInterval: interval})
					snap, err := table.Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol)
					if err != nil {
						b.Fatal(err)
					}
					return table, snap
				}
				table, snap := newTable()
				var err error
				b.ResetTimer()
				for i := range int64(b.N) {
					// Without checkpoints the untimed snapshot reload replays
					// the whole log: a fresh table every 100 commits keeps
					// the run linear in b.N.
					if interval > 10 && i > 0 && i%100 == 0 {
						b.StopTimer()
						table, snap = newTable()
						b.StartTimer()
					}
					tx := snap.Begin("WRITE")
					tx.Add(benchAdd(i))
					tx.SetAppVersion("bench", i)
					if _, err := tx.Commit(ctx); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if snap, err = table.Snapshot(ctx); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkCommitContended measures throughput with N writers doing blind
// appends (each its own appId) on one table, snapshot reads included; ns/op
// is wall time per successful commit. Baseline: the store's PutIfAbsent
// of one commit-sized object.
func BenchmarkCommitContended(b *testing.B) {
	for name, newStore := range benchStores() {
		b.Run(name+"/baseline-put-if-absent", func(b *testing.B) { benchPutIfAbsent(b, newStore(b)) })
		for _, writers := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/writers=%d", name, writers), func(b *testing.B) {
				ctx := context.Background()
				races := &raceCounter{}
				table := Open(newStore(b), Options{Logger: slog.New(races)})
				if _, err := table.Create(ctx, Metadata{SchemaString: testSchema}, rawTableProtocol); err != nil {
					b.Fatal(err)
				}
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							snap, err := table.Snapshot(ctx)
							if err != nil {
								b.Error(err)
								return
							}
							tx := snap.Begin("WRITE")
							tx.Add(benchAdd(i))
							tx.SetAppVersion(fmt.Sprintf("w%d", w), i)
							if _, err := tx.Commit(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(races.lost.Load())/float64(b.N), "lostraces/op")
			})
		}
	}
}
