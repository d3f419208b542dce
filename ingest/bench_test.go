package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
)

// benchEvents is the backlog each BenchmarkIngest iteration ingests.
const benchEvents = 100_000

// event1K is a Debezium PostgreSQL insert of about 1 KB.
func event1K(i int) []byte {
	pad := strings.Repeat("x", 760)
	return fmt.Appendf(nil, `{"before":null,"after":{"id":%d,"name":"customer %d","note":"%s"},"source":{"version":"2.7.1.Final","connector":"postgresql","name":"srv","ts_ms":1700000000000,"snapshot":"false","db":"shop","sequence":"[\"%d\",\"%d\"]","schema":"public","table":"orders","txId":%d,"lsn":%d,"xmin":null},"op":"c","ts_ms":1700000000123,"transaction":null}`,
		i, i, pad, 1000+i, 2000+i, 500+i/10, 2000+i)
}

func produceBacklog(b *testing.B, brokers []string, topics, partitions, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: fmt.Sprintf("srv.public.t%d", i%topics), Partition: int32(i % partitions), Key: fmt.Appendf(nil, `{"id":%d}`, i), Value: event1K(i)}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIngest ingests a backlog of 1 KB Debezium events from an
// in-process kfake into an in-memory table, once per iteration (a fresh
// table each time). Reported: events/s, and the seconds per event of each
// stage. Run with -cpu 1 for the per-core figure.
func BenchmarkIngest(b *testing.B) {
	brokers := newCluster(b, 4)
	produceBacklog(b, brokers, 4, 4, benchEvents)
	cfg := testConfig(brokers, `srv\..*`)
	cfg.TargetFileBytes = 16 << 20
	var st Stages
	var events int64
	b.ResetTimer()
	start, cpuStart := time.Now(), cpuTime()
	for b.Loop() {
		raw, dead := newTables()
		rep, err := Run(context.Background(), cfg, raw, dead, nil)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Records != benchEvents {
			b.Fatalf("records = %d, want %d", rep.Records, benchEvents)
		}
		events += rep.Records
		st.Fetch += rep.Stages.Fetch
		st.Parse += rep.Stages.Parse
		st.Write += rep.Stages.Write
		st.Commit += rep.Stages.Commit
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	// On a shared machine wall time includes waiting for a core; events
	// per CPU-second of this process (which also runs the kfake broker)
	// is the per-core figure.
	b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	per := func(d Duration) float64 { return float64(time.Duration(d).Nanoseconds()) / float64(events) }
	b.ReportMetric(per(st.Fetch), "fetch-ns/event")
	b.ReportMetric(per(st.Parse), "parse-ns/event")
	b.ReportMetric(per(st.Write), "write-ns/event")
	b.ReportMetric(per(st.Commit), "commit-ns/event")
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngestNothingToDo measures a run that finds every partition
// caught up: plan (list topics, offsets, read the log) and return.
func BenchmarkIngestNothingToDo(b *testing.B) {
	brokers := newCluster(b, 4)
	produceBacklog(b, brokers, 8, 4, 1000)
	cfg := testConfig(brokers, `srv\..*`)
	raw, dead := newTables()
	if _, err := Run(context.Background(), cfg, raw, dead, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := Run(context.Background(), cfg, raw, dead, nil)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Records != 0 {
			b.Fatalf("records = %d", rep.Records)
		}
	}
}

// backlogEvent is a 1 KB Debezium PostgreSQL insert whose note is random
// hex: it compresses about 2x like real rows, where event1K's repeated pad
// compresses 50x and would make the files (and the memory they hold)
// unrealistically small.
func backlogEvent(rng *rand.Rand, i int) []byte {
	const hexDigits = "0123456789abcdef"
	var pad [760]byte
	for j := range pad {
		pad[j] = hexDigits[rng.IntN(16)]
	}
	return fmt.Appendf(nil, `{"before":null,"after":{"id":%d,"name":"customer %d","note":"%s"},"source":{"version":"2.7.1.Final","connector":"postgresql","name":"srv","ts_ms":1700000000000,"snapshot":"false","db":"shop","sequence":"[\"%d\",\"%d\"]","schema":"public","table":"orders","txId":%d,"lsn":%d,"xmin":null},"op":"c","ts_ms":1700000000123,"transaction":null}`,
		i, i, pad[:], 1000+i, 2000+i, 500+i/10, 2000+i)
}

// BenchmarkIngestBacklog measures peak RSS and throughput ingesting a
// backlog of 1 KB events from the harness's Kafka, which runs in its own
// process (tests/cmd/kfakebroker), so the broker's copy of the backlog is
// not in this process's RSS. The table is a local directory (an in-memory
// store would hold the output in RSS). Each iteration ingests the whole
// backlog into a fresh table with the default file target (128 MB) and
// buffer limit (256 MB).
//
// 200,000 events; SLUICE_BENCH_FULL=1 makes it 2,000,000 (SLUICE_BENCH_EVENTS
// overrides both). The baseline sub-benchmark reads the same backlog with
// franz-go and drops it: the fetch cost and memory any consumer pays.
// peak-rss-MB is this process's VmHWM during the sub-benchmark (reset first
// through /proc/self/clear_refs).
func BenchmarkIngestBacklog(b *testing.B) {
	brokers := testenv.Kafka(b)
	n := 200_000
	if os.Getenv("SLUICE_BENCH_FULL") == "1" {
		n = 2_000_000
	}
	if s := os.Getenv("SLUICE_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("SLUICE_BENCH_EVENTS=%q: %v", s, err)
		}
		n = v
	}
	prefix := testenv.UniqueName("bench") + "."
	const topics, partitions = 4, 4
	produceNoisy(b, brokers, prefix, topics, partitions, n)
	runtime.GC()
	debug.FreeOSMemory()
	cfg := testConfig(brokers, regexp.QuoteMeta(prefix)+".*")
	cfg.TargetFileBytes = 0 // the defaults
	cfg.ReadTimeout = time.Minute

	b.Run("baseline-fetch-only", func(b *testing.B) {
		resetPeakRSS(b)
		var events int64
		for b.Loop() {
			events += fetchAll(b, brokers, prefix, topics, partitions, n)
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(peakRSSMB(b), "peak-rss-MB")
	})
	b.Run("ingest", func(b *testing.B) {
		resetPeakRSS(b)
		var events, files int64
		var st Stages
		cpuStart := cpuTime()
		for b.Loop() {
			store, err := fileblob.New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			raw := lakelog.Open(store, lakelog.Options{})
			rep, err := Run(context.Background(), cfg, raw, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Records != int64(n) {
				b.Fatalf("records = %d, want %d", rep.Records, n)
			}
			events += rep.Records
			files += int64(len(rep.Files))
			st.Fetch += rep.Stages.Fetch
			st.Parse += rep.Stages.Parse
			st.Write += rep.Stages.Write
			st.Commit += rep.Stages.Commit
		}
		cpu := cpuTime() - cpuStart
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
		b.ReportMetric(peakRSSMB(b), "peak-rss-MB")
		b.ReportMetric(float64(files)/float64(b.N), "files/run")
		per := func(d Duration) float64 { return float64(time.Duration(d).Nanoseconds()) / float64(events) }
		b.ReportMetric(per(st.Fetch), "fetch-ns/event")
		b.ReportMetric(per(st.Parse), "parse-ns/event")
		b.ReportMetric(per(st.Write), "write-ns/event")
		b.ReportMetric(per(st.Commit), "commit-ns/event")
	})
}

func produceNoisy(b *testing.B, brokers []string, prefix string, topics, partitions, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	adm := kadm.NewClient(cl)
	for t := range topics {
		if _, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, fmt.Sprintf("%st%d", prefix, t)); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: fmt.Sprintf("%st%d", prefix, i%topics), Partition: int32(i / topics % partitions), Key: fmt.Appendf(nil, `{"id":%d}`, i), Value: backlogEvent(rng, i)}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// fetchAll reads the n records of the backlog with franz-go and drops them.
func fetchAll(b *testing.B, brokers []string, prefix string, topics, partitions, n int) int64 {
	offsets := map[string]map[int32]kgo.Offset{}
	for t := range topics {
		m := map[int32]kgo.Offset{}
		for p := range partitions {
			m[int32(p)] = kgo.NewOffset().AtStart()
		}
		offsets[fmt.Sprintf("%st%d", prefix, t)] = m
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(offsets), kgo.FetchMaxBytes(DefaultFetchMaxBytes), kgo.FetchMaxPartitionBytes(4<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var got int64
	for got < int64(n) {
		fs := cl.PollFetches(context.Background())
		if err := fs.Err(); err != nil {
			b.Fatal(err)
		}
		got += int64(fs.NumRecords())
	}
	return got
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux).
func resetPeakRSS(b *testing.B) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset peak RSS: %v", err)
	}
}

// peakRSSMB is this process's VmHWM in MiB.
func peakRSSMB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkIngestThousandTopics ingests 1,000 topics × 10 events in one run
// (a fresh table per iteration). The baseline is Plan over the same topics:
// listing 1,000 topics and their offsets, which any run pays.
func BenchmarkIngestThousandTopics(b *testing.B) {
	brokers := newCluster(b, 1)
	const topics, each = 1000, 10
	var recs []*kgo.Record
	for tp := range topics {
		name := fmt.Sprintf("srv.public.t%04d", tp)
		for i := range each {
			recs = append(recs, rec(name, 0, fmt.Sprint(i), event1K(tp*each+i)))
		}
	}
	produce(b, brokers, recs...)
	cfg := testConfig(brokers, `srv\..*`)
	cfg.TargetFileBytes = 0 // the default
	b.Run("baseline-plan-only", func(b *testing.B) {
		raw, _ := newTables()
		for b.Loop() {
			if _, err := Plan(context.Background(), cfg, raw, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ingest", func(b *testing.B) {
		var events, files int64
		for b.Loop() {
			raw, dead := newTables()
			rep, err := Run(context.Background(), cfg, raw, dead, nil)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Records != topics*each {
				b.Fatalf("records = %d, want %d", rep.Records, topics*each)
			}
			events += rep.Records
			files += int64(len(rep.Files))
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(files)/float64(b.N), "files/run")
	})
}
