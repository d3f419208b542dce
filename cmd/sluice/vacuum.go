package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/lakelog"
)

func init() {
	register(&command{
		name:    "vacuum",
		summary: "delete data files and old log entries a Delta table no longer needs (dry run by default)",
		usage:   "<table path | file:///dir | s3://bucket/prefix> [--execute] [--retention D] [--log] [--json] [--wait D]",
		help: `Lists, and with --execute deletes, the files under a Delta table's root that its
latest version does not use and that no remove younger than the retention still
references (VACUUM). Files newer than the retention are always kept: they may belong
to a commit in progress. Paths starting with "_" or "." are never touched.

With --log it also cleans up the log (PROTOCOL.md "Metadata Cleanup"): commits and
checkpoints older than the newest checkpoint before now minus the table's
delta.logRetentionDuration (default 30 days) are deleted; time travel before that
checkpoint stops working.

Without --execute nothing is deleted: the report shows what would be. The default
retention is the table's delta.deletedFileRetentionDuration, else 7 days; below 1h
is refused. Safe to rerun; safe beside running writers when the retention is longer
than any commit takes.

Lease: with --execute the run holds the lease "vacuum" in the table itself
(<table>/_sluice_leases/vacuum), so two vacuums of one table never run at once.
When another run holds it, the command does nothing and exits 6; --wait D waits
up to D for it instead. A dry run takes no lease and writes nothing.`,
		run: runVacuum,
	})
}

func runVacuum(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["vacuum"]
	fs := newFlags(c, env)
	execute := fs.Bool("execute", false, "delete the files (default: dry run, print what would be deleted)")
	retention := fs.Duration("retention", 0, "keep removed files younger than this (default: the table's delta.deletedFileRetentionDuration, else 168h)")
	cleanLog := fs.Bool("log", false, "also delete expired log entries (metadata cleanup)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	wait := leaseWaitFlag(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return jobs.UsageError(fmt.Errorf("want exactly one table location, got %d (see sluice vacuum --help)", len(pos)))
	}
	store, err := jobs.OpenStore(ctx, pos[0], jobs.StoreOptions{S3PathStyle: os.Getenv("SLUICE_S3_PATH_STYLE") == "true"})
	if err != nil {
		return jobs.UsageError(err)
	}
	table := lakelog.Open(store, lakelog.Options{})
	var (
		vr *lakelog.VacuumReport
		cr *lakelog.CleanupReport
	)
	clean := func(ctx context.Context) error {
		var err error
		vr, err = table.Vacuum(ctx, lakelog.VacuumOptions{Retention: *retention, Execute: *execute})
		if err != nil {
			return fmt.Errorf("vacuum %s: %w", pos[0], err)
		}
		if *cleanLog {
			if cr, err = table.CleanupMetadata(ctx, lakelog.CleanupOptions{Execute: *execute}); err != nil {
				return fmt.Errorf("log cleanup %s: %w", pos[0], err)
			}
		}
		return nil
	}
	if *execute {
		// The lease lives in the table: vacuum has no config, so no
		// warehouse, and "_" paths are never vacuumed.
		logger := slog.New(slog.NewTextHandler(env.stderr, nil))
		_, err = jobs.WithStoreLease(ctx, store, "vacuum", []string{"vacuum"}, jobs.JobLeaseOptions{Wait: *wait}, logger, func(ctx context.Context) (*jobs.Report, error) {
			return nil, clean(ctx)
		})
	} else {
		err = clean(ctx)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Vacuum  *lakelog.VacuumReport  `json:"vacuum"`
			Cleanup *lakelog.CleanupReport `json:"cleanup,omitempty"`
		}{vr, cr})
	}
	verb := "would delete"
	if *execute {
		verb = "deleted"
	}
	fmt.Fprintf(env.stdout, "version %d, retention %s (files older than %s):\n", vr.Version, vr.Retention, vr.Cutoff.Format(time.RFC3339))
	for _, f := range vr.Files {
		fmt.Fprintf(env.stdout, "  %s %s (%d bytes)\n", verb, f.Key, f.Size)
	}
	fmt.Fprintf(env.stdout, "data files: %s %d (%d bytes)\n", verb, len(vr.Files), vr.Bytes)
	if cr != nil {
		for _, f := range cr.Files {
			fmt.Fprintf(env.stdout, "  %s %s\n", verb, f.Key)
		}
		fmt.Fprintf(env.stdout, "log files: %s %d (%d bytes), oldest kept checkpoint %d\n", verb, len(cr.Files), cr.Bytes, cr.CheckpointVersion)
	}
	if !*execute {
		fmt.Fprintln(env.stdout, "dry run: nothing was deleted; add --execute to delete")
	}
	return nil
}
