package ingest

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
