// Command capturemain runs one PostgreSQL capture into Kafka until SIGTERM
// or SIGINT: the process a kill -9 test starts, kills and starts again. It
// lives under testdata so that it is not part of sluice's packages:
//
//	SLUICE_PG_DSN=postgres://… go run ./capture/postgres/testdata/capturemain \
//	  -kafka 127.0.0.1:19092 -prefix pfx -slot s -publication p
//
// The DSN comes from the environment so that it never shows in ps output.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/postgres"
)

func main() {
	kafka := flag.String("kafka", "127.0.0.1:19092", "seed brokers, comma-separated")
	prefix := flag.String("prefix", "", "topic prefix (and source name)")
	slot := flag.String("slot", "sluice", "replication slot")
	pub := flag.String("publication", "sluice", "publication")
	atLeastOnce := flag.Bool("at-least-once", false, "no Kafka transactions")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pgCfg := postgres.Config{DSN: os.Getenv("SLUICE_PG_DSN"), SlotName: *slot, Publication: *pub, AllTables: true, TopicPrefix: *prefix}
	kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: strings.Split(*kafka, ",")}, SourceName: *prefix,
		TopicPrefix: *prefix, AutoCreateTopics: true, AtLeastOnce: *atLeastOnce}
	err := capture.RunWithRestarts(ctx, func(ctx context.Context) (capture.Source, error) {
		return postgres.New(ctx, pgCfg, logger)
	}, kcfg, 0, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "capturemain: %v\n", err)
		os.Exit(1)
	}
}
