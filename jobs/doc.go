// Package jobs builds sluice's parts from configuration and runs them as
// jobs: once (cron, Airflow), on a schedule, with locking, metrics and run
// reports. It is the only package (with cmd/sluice) that wires concrete
// backends — object stores, Kafka clients, source databases — together.
//
// Invariants:
//   - Backends are chosen in exactly one place per kind (OpenStore for
//     object stores).
//   - Secrets come from the environment or files, and never reach logs,
//     errors or reports.
//   - Every job ends with a run report and an exit code from the table in
//     exitcode.go; a retry of a failed job is always safe.
//   - A scheduled job never runs twice at once, in one process or across
//     daemons sharing a lake: a tick finding the previous run still going is
//     skipped (never queued), and a lease in the lake
//     (_sluice_leases/<job>/<epoch>, written only with PutIfAbsent, renewed
//     every TTL/3, work stopped at 3/4 TTL without renewal) excludes other
//     processes; an expired lease is taken over by exactly one taker. See
//     lease.go and schedule.go. One-shot ingest, merge, run and compact
//     take the same leases (joblease.go) and do nothing, exit 6, when one
//     is held.
//   - ${ENV} is expanded in config values only, never in comments or keys,
//     and never parsed as YAML (config_decode.go).
package jobs
