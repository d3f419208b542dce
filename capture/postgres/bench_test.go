package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/tests/testenv"
)

// BenchmarkCaptureThroughput runs pgbench-like single-row insert
// transactions from 4 clients while capture.Run streams them to Kafka, and
// reports captured events/s and commit-to-Kafka latency (source commit time
// to the record being readable with read_committed).
//
//	go test ./capture/postgres -run '^$' -bench Capture -benchtime 20000x
func BenchmarkCaptureThroughput(b *testing.B) {
	b.Run("saturated", func(b *testing.B) { benchCapture(b, 0) })
	// At a rate the machine sustains the latency is the pipeline's own,
	// not queueing behind a saturated CPU.
	b.Run("paced1000", func(b *testing.B) { benchCapture(b, 1000) })
}

// benchCapture inserts b.N rows, at rate rows/s (0: as fast as 4 clients go).
func benchCapture(b *testing.B, rate int) {
	brokers := testenv.Kafka(b)
	dsn := testDB(b)
	execSQL(b, dsn, `CREATE TABLE bench (id bigint PRIMARY KEY, aid int, bid int, delta int, note text, at timestamptz DEFAULT now())`)
	prefix := testenv.UniqueName("bench")
	pgCfg := Config{DSN: dsn, SlotName: "s_bench", Publication: "p_bench", AllTables: true, TopicPrefix: prefix}
	kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix, AutoCreateTopics: true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := New(ctx, pgCfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	runDone := make(chan error, 1)
	go func() { runDone <- capture.Run(ctx, src, kcfg, nil) }()
	waitSlot(b, dsn, "s_bench")

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(prefix+".public.bench"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()

	var lat []time.Duration
	got := 0
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for got < b.N {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				got++
				// The record timestamp is the source commit time (ms).
				lat = append(lat, now.Sub(r.Timestamp))
			})
		}
	}()

	b.ResetTimer()
	start := time.Now()
	clients := 4
	if rate > 0 {
		clients = 1
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < b.N; i += clients {
				if rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
				}
				if _, err := pool.Exec(ctx, `INSERT INTO bench (id, aid, bid, delta, note) VALUES ($1, $2, $3, $4, $5)`,
					i, i%100000, i%10, i%5000, fmt.Sprintf("note %d", i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-consumed:
	case err := <-runDone:
		b.Fatalf("capture ended: %v", err)
	case <-time.After(5 * time.Minute):
		b.Fatalf("consumed %d of %d", got, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	cancel()
	<-runDone
}
