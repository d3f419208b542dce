package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/lakelog"
)

func init() {
	classifiers = append(classifiers, func(err error) (int, bool) {
		var uf *lakelog.UnsupportedFeatureError
		if errors.As(err, &uf) {
			return jobs.ExitNeedsAction, true
		}
		if errors.Is(err, lakelog.ErrNoTable) {
			return jobs.ExitUsage, true
		}
		return 0, false
	})
	register(&command{
		name:    "describe",
		summary: "show a Delta table: version, protocol, schema, files, rows, txn versions",
		usage:   "<table path | file:///dir | s3://bucket/prefix> [--version N] [--json]",
		help: `Prints what a Delta table holds at its latest version (or --version N): protocol
versions and features, schema, partition and clustering columns, number of active
files, bytes and rows, the txn app versions (ingest offsets, merge progress), domains,
and the last commit's operation and time. Works on any Delta table, not only
sluice's. A table that needs a Delta reader feature sluice does not support is
refused with the feature's name (exit code 5).

S3 locations use the AWS default credential chain; set AWS_ENDPOINT_URL_S3 (and
AWS_REGION) for S3-compatible servers, and SLUICE_S3_PATH_STYLE=true for path-style
addressing.`,
		run: runDescribe,
	})
}

func runDescribe(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["describe"]
	fs := newFlags(c, env)
	version := fs.Int64("version", -1, "describe this version instead of the latest (time travel)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return jobs.UsageError(fmt.Errorf("want exactly one table location, got %d (see sluice describe --help)", len(pos)))
	}
	store, err := jobs.OpenStore(ctx, pos[0], jobs.StoreOptions{S3PathStyle: os.Getenv("SLUICE_S3_PATH_STYLE") == "true"})
	if err != nil {
		return jobs.UsageError(err)
	}
	table := lakelog.Open(store, lakelog.Options{})
	var snap *lakelog.Snapshot
	if *version >= 0 {
		snap, err = table.SnapshotAt(ctx, *version)
	} else {
		snap, err = table.Snapshot(ctx)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	d, err := lakelog.Describe(ctx, table, snap)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	return d.WriteText(env.stdout)
}
