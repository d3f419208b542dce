// Command crashrunner runs ONE sluice stage in its own process, so that the
// crash tests in package tests can SIGKILL it at a random moment and start it
// again. It is a test tool, not part of sluice: it wires the libraries
// directly and does not depend on the sluice command's configuration file.
//
//	crashrunner capture -kafka host:port -prefix p -slot s -publication pub -tables public.t
//	crashrunner ingest  -kafka host:port -dir /tmp/wh -regex 'p\..*' [-target-file-bytes n] [-max-batch-age d]
//	crashrunner merge   -dir /tmp/wh [-target-file-rows n]
//
// The PostgreSQL DSN comes from SLUICE_PG_DSN so that it never shows in ps
// output. SLUICE_CRASHRUNNER_PUT_DELAY (a Go duration) makes every write to
// the warehouse store sleep that long first: it stretches a run so that
// kills land during writes and commits, not only at start-up.
//
// The warehouse layout is fixed: the raw table at <dir>/raw/cdc, its
// dead-letter table at <dir>/raw/dead_letters, SCD1 tables under
// <dir>/scd1 (merge.DefaultLocation).
//
// capture runs until SIGTERM/SIGINT; ingest and merge run once (available
// now) and print their report as JSON on stdout. Exit status 0 on success,
// 1 on a stage error, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/postgres"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/merge"
)

// Warehouse layout shared with the tests.
const (
	RawPrefix        = "raw/cdc"
	DeadLetterPrefix = "raw/dead_letters"
	TablesRoot       = "scd1"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crashrunner capture|ingest|merge [flags]")
		os.Exit(2)
	}
	stage, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(stage, flag.ExitOnError)
	kafka := fs.String("kafka", "", "seed brokers, comma-separated")
	dir := fs.String("dir", "", "warehouse directory (ingest, merge)")
	prefix := fs.String("prefix", "", "capture: topic prefix and source name")
	slot := fs.String("slot", "sluice", "capture: replication slot")
	pub := fs.String("publication", "sluice", "capture: publication")
	tables := fs.String("tables", "", "capture: schema.table names, comma-separated")
	maxTxn := fs.Int("max-txn-records", 0, "capture: records per Kafka transaction (0: default)")
	regex := fs.String("regex", "", "ingest: topic regex")
	group := fs.String("group", "", "ingest: consumer group for lag")
	targetBytes := fs.Int64("target-file-bytes", 0, "ingest: target data file size (0: default)")
	maxAge := fs.Duration("max-batch-age", 0, "ingest: microbatch age bound (0: default)")
	targetRows := fs.Int("target-file-rows", 0, "merge: rows per SCD1 file (0: default)")
	verbose := fs.Bool("v", false, "debug logging on stderr")
	_ = fs.Parse(args)

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var report any
	var err error
	switch stage {
	case "capture":
		err = runCapture(ctx, *kafka, *prefix, *slot, *pub, *tables, *maxTxn, logger)
	case "ingest", "merge":
		var store blob.Store
		store, err = warehouse(*dir)
		if err != nil {
			break
		}
		raw := lakelog.Open(blob.Sub(store, RawPrefix), lakelog.Options{Logger: logger})
		if stage == "ingest" {
			dead := lakelog.Open(blob.Sub(store, DeadLetterPrefix), lakelog.Options{Logger: logger})
			cfg := ingest.Config{
				Brokers: splitList(*kafka), TopicRegex: *regex, GroupID: *group,
				TargetFileBytes: *targetBytes, MaxBatchAge: *maxAge,
				MaxDeadLetterRatio: 1, ReadTimeout: 30 * time.Second,
			}
			report, err = ingest.Run(ctx, cfg, raw, dead, logger)
		} else {
			cfg := merge.Config{TablesRoot: TablesRoot, TargetFileRows: *targetRows}
			report, err = merge.Run(ctx, raw, store, cfg, logger)
		}
	default:
		fmt.Fprintf(os.Stderr, "crashrunner: unknown stage %q\n", stage)
		os.Exit(2)
	}
	if report != nil {
		_ = json.NewEncoder(os.Stdout).Encode(report)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crashrunner %s: %v\n", stage, err)
		os.Exit(1)
	}
}

func runCapture(ctx context.Context, kafka, prefix, slot, pub, tables string, maxTxn int, logger *slog.Logger) error {
	pgCfg := postgres.Config{DSN: os.Getenv("SLUICE_PG_DSN"), SlotName: slot, Publication: pub,
		Tables: splitList(tables), TopicPrefix: prefix}
	cfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: splitList(kafka)}, SourceName: prefix,
		TopicPrefix: prefix, WithSchema: true, AutoCreateTopics: true, MaxTxnRecords: maxTxn}
	src, err := postgres.New(ctx, pgCfg, logger)
	if err != nil {
		return err
	}
	defer src.Close()
	return capture.Run(ctx, src, cfg, logger)
}

// warehouse opens the fileblob store at dir, slowed down by
// SLUICE_CRASHRUNNER_PUT_DELAY when set.
func warehouse(dir string) (blob.Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("-dir is required")
	}
	fsStore, err := fileblob.New(dir)
	if err != nil {
		return nil, err
	}
	var store blob.Store = fsStore
	if d := os.Getenv("SLUICE_CRASHRUNNER_PUT_DELAY"); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("SLUICE_CRASHRUNNER_PUT_DELAY: %w", err)
		}
		store = &slowStore{Store: fsStore, delay: delay}
	}
	return store, nil
}

// slowStore sleeps before every write, so that a run spends a predictable
// share of its time between a data file and the commit that references it.
// It embeds the concrete store so that its optional capabilities (Stat,
// ListFrom) stay visible and the code paths are those of a plain run.
type slowStore struct {
	*fileblob.Store
	delay time.Duration
}

func (s *slowStore) Put(ctx context.Context, key string, data []byte) error {
	time.Sleep(s.delay)
	return s.Store.Put(ctx, key, data)
}

func (s *slowStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	time.Sleep(s.delay)
	return s.Store.PutIfAbsent(ctx, key, data)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
