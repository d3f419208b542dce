package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
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
	slot := testSlot("s_bench")
	pgCfg := Config{DSN: dsn, SlotName: slot, Publication: "p_bench", AllTables: true, TopicPrefix: prefix}
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
	waitSlot(b, dsn, slot)

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

// BenchmarkCaptureBacklog measures capture's own ceiling: the WAL of b.N
// inserted rows is already there when capture starts, so the figure is how
// fast capture decodes, encodes and produces (transactionally) — not how
// fast PostgreSQL accepts inserts, which bounds BenchmarkCaptureThroughput
// on a small machine. rows-per-txn 1 is pgbench-like single-row
// transactions; 100 is batch writes. cpu-s/1k-events counts this whole
// process (capture plus the test's consumer), so it is an upper bound.
//
//	go test ./capture/postgres -run '^$' -bench CaptureBacklog -benchtime 50000x
func BenchmarkCaptureBacklog(b *testing.B) {
	for _, perTxn := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows-per-txn=%d", perTxn), func(b *testing.B) { benchBacklog(b, perTxn) })
	}
}

func benchBacklog(b *testing.B, perTxn int) {
	brokers := testenv.Kafka(b)
	dsn := testDB(b)
	execSQL(b, dsn, `CREATE TABLE bench (id bigint PRIMARY KEY, aid int, bid int, delta int, note text, at timestamptz DEFAULT now())`)
	prefix := testenv.UniqueName("backlog")
	slot := testSlot("s_backlog")
	pgCfg := Config{DSN: dsn, SlotName: slot, Publication: "p_backlog", AllTables: true, TopicPrefix: prefix}
	kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix, AutoCreateTopics: true}

	// Create the slot (first run), stop, write the backlog, then time a
	// second run draining it.
	run := func(ctx context.Context) (chan error, *Source) {
		src, err := New(ctx, pgCfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- capture.Run(ctx, src, kcfg, nil) }()
		return done, src
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1, src1 := run(ctx1)
	waitSlot(b, dsn, slot)
	cancel1()
	if err := <-done1; err != nil {
		b.Fatal(err)
	}
	src1.Close()
	if perTxn == 1 {
		execSQL(b, dsn, fmt.Sprintf(`DO $$ BEGIN FOR i IN 0..%d LOOP
			INSERT INTO bench (id, aid, bid, delta, note) VALUES (i, i %% 100000, i %% 10, i %% 5000, 'note ' || i); COMMIT;
			END LOOP; END $$`, b.N-1))
	} else {
		execSQL(b, dsn, fmt.Sprintf(`DO $$ BEGIN FOR s IN 0..%d BY %d LOOP
			INSERT INTO bench (id, aid, bid, delta, note) SELECT i, i %% 100000, i %% 10, i %% 5000, 'note ' || i
			FROM generate_series(s, least(s + %d, %d)) i; COMMIT;
			END LOOP; END $$`, b.N-1, perTxn, perTxn-1, b.N-1))
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(prefix+".public.bench"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	done, src := run(ctx)
	defer src.Close()
	// A capture that fails ends the wait at once: Run returns only when
	// cancelled or on an error, and polling on would wait out ctx.
	runErr := make(chan error, 1)
	go func() {
		err := <-done
		runErr <- err
		cancel()
	}()
	got := 0
	for got < b.N {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			select {
			case err := <-runErr:
				b.Fatalf("capture ended after %d of %d events: %v", got, b.N, err)
			default:
				b.Fatalf("consumed %d of %d", got, b.N)
			}
		}
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-s/1k-events")
	cancel()
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
