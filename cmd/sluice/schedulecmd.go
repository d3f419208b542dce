package main

import (
	"context"

	"github.com/sluicehq/sluice/jobs"
)

func init() {
	register(&command{
		name:    "schedule",
		summary: "run ingest, merge, run and compact on cron schedules (daemon)",
		usage:   "--config sluice.yaml [--listen ADDR]",
		help: `Runs the jobs listed in schedule.jobs of the config on their cron expressions
(5-field "*/5 * * * *", or @hourly, @daily, @every 10m, ...) until SIGTERM or Ctrl-C:
ingest, merge, run (ingest then merge) and compact. Each run logs its JSON run
report (the same as --report of the one-shot commands) as one log record.

A job never overlaps itself. In this process a tick that finds the previous run
still going is skipped, not queued. Across processes a lease in the lake
(<warehouse>/_sluice_leases/<job>/) makes the job exclusive: two daemons on two
machines against one warehouse never run it at once, and a crashed daemon's lease
expires after schedule.lease_ttl. run takes the ingest and the merge leases. The
one-shot ingest, merge, run and compact commands take the same leases, so cron,
Airflow and daemons can share a lake.

Serves Prometheus metrics on http://ADDR/metrics (names in docs/metrics.md) and
http://ADDR/healthz: 200 while the scheduler runs and no job failed
schedule.unhealthy_after runs in a row, 503 with the reason otherwise.

On SIGTERM no new run starts; running jobs get schedule.shutdown_grace to finish,
are then cancelled, and their leases released. Failed runs do not stop the daemon
(they show in logs, metrics and /healthz).
Exit codes: 0 stopped cleanly, 1 the metrics address could not be bound or jobs
did not stop after being cancelled, 2 a bad config or flag (no schedule.jobs).`,
		run: runSchedule,
	})
}

func runSchedule(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["schedule"]
	fs := newFlags(c, env)
	cfgPath := configFlag(fs)
	listen := fs.String("listen", "", "address for /metrics and /healthz (overrides schedule.listen, default :9108)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	je, err := loadJob(env, *cfgPath)
	if err != nil {
		return err
	}
	return je.fail(jobs.RunSchedule(ctx, je.cfg, jobs.ScheduleOptions{Listen: *listen}, je.logger))
}
