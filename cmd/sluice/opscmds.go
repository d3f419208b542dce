package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/sluicehq/sluice/jobs"
)

func init() {
	register(&command{
		name:    "status",
		summary: "how fresh each SCD1 table is, what waits to merge, Kafka and capture lag",
		usage:   "--config sluice.yaml [--json]",
		help: `Per SCD1 table: its version, the raw table version it is complete through, the
source commit time and ordering key it reflects (its sluice.progress domain), and
the raw versions and rows waiting to merge. Per topic: the Kafka offsets not yet in
the raw table, when the brokers answer (within 10s; otherwise the status says
why). Per source, where its capture stands, asked of the source (10s timeout each):
PostgreSQL — the slot's confirmed flush LSN, the current WAL LSN, lag and retained
WAL bytes, wal_status; MySQL/MariaDB — the binlog position capture stored in Kafka
(<topic_prefix>.sluice.positions), the server's position now (file:pos;GTID set)
and the binlog bytes between them. A source that cannot be asked gets an error
in its row, never a failed status. Reads only; writes nothing. A table on a
terminal, JSON with --json.`,
		run: runStatus,
	})
	register(&command{
		name:    "demo",
		summary: "the whole flow in a minute, with nothing installed",
		usage:   "[--dir DIR] [--rounds N]",
		help: `Starts an embedded Kafka (kfake, in this process), writes a warehouse into a
local directory (--dir, default a new temporary directory; printed), and generates
realistic changes of a small shop database (customers, orders, order_items:
inserts, updates, deletes, a primary-key change) as Debezium PostgreSQL events on
the topics demo.public.<table>. It then runs ingest and merge after each round of
changes, prints the SCD1 tables and the status, checks the tables against the
generator's own record of the final rows, and shows how to point the same config
at a real Kafka and S3. Needs no services and no network.`,
		run: runDemo,
	})
}

func runStatus(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["status"]
	fs := newFlags(c, env)
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	je, err := loadJob(env, *cfgPath)
	if err != nil {
		return err
	}
	st, err := jobs.GetStatus(ctx, je.cfg, je.logger)
	if err != nil {
		return je.fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(je.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return st.WriteText(je.stdout)
}

func runDemo(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["demo"]
	fs := newFlags(c, env)
	dir := fs.String("dir", "", "warehouse directory (default: a new temporary directory)")
	rounds := fs.Int("rounds", 3, "rounds of changes after the initial load")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	logger := jobs.NewLogger(jobs.LogConfig{Format: "text", Level: "warn"}, env.stderr)
	if os.Getenv("SLUICE_DEMO_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	_, err := jobs.Demo(ctx, jobs.DemoOptions{Dir: *dir, Rounds: *rounds, Out: env.stdout, Logger: logger})
	return err
}
