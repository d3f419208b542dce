package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/jobs"
)

func init() {
	classifiers = append(classifiers, jobs.ClassifyTableCheck)
	register(&command{
		name:    "validate",
		summary: "check the config and reachability, or compare a source table with its SCD1 table",
		usage:   "--config sluice.yaml [--json] [--table T [--source NAME] [--repair] [--range-rows N] [--max-keys N]]",
		help: `Without --table: parses and validates the config (errors name the field), then
tries to reach what it names, printing one line per check: the warehouse (a
listing), Kafka (a metadata request), and each source (PostgreSQL: a connection and
wal_level=logical; MySQL/MariaDB: a connection and a row-based binlog). Changes
nothing. Exits 0 when every check passes, 3 when something is unreachable, 2 for a
bad config.

With --table T (db.schema.table for PostgreSQL, db.table for MySQL/MariaDB):
compares the source table with its SCD1 table at one consistent source position P.
The table is cut into primary-key ranges (from the key distribution, about
--range-rows rows each); per range, the row count and a digest of every row (in the
SCD1 table's types) are computed on both sides, streaming. Ranges that differ are
read again to name their keys: missing in the lake, extra in the lake, or changed.
Prints P and the source position the SCD1 table has merged through; when the lake
is behind P, recent source changes show as differences until ingest and merge
catch up: run "sluice run" and validate again. Reads only. Exits 0 when equal, 4
when ranges differ.

--repair then reloads exactly the differing keys from the source (a snapshot
under a new id "validate-<ms>" into the raw table, at a new consistent view),
writes delete events at P for keys the source lacks, and merges the table. The
merge's ordering guard keeps any change newer than the reload. Exits 0 when the
repair was merged; run validate again to confirm. See docs/validate.md.`,
		run: runValidate,
	})
}

func runValidate(ctx context.Context, env *cmdEnv, args []string) error {
	c := commands["validate"]
	fs := newFlags(c, env)
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	table := fs.String("table", "", "compare this source table with its SCD1 table (db.schema.table or db.table)")
	source := fs.String("source", "", "with --table: the configured source holding it (default: the only one of its kind)")
	repair := fs.Bool("repair", false, "with --table: reload the differing keys and merge the table")
	rangeRows := fs.Int64("range-rows", 50_000, "with --table: rows per compared key range (a differing range is held in memory)")
	maxKeys := fs.Int("max-keys", 20, "with --table: differing keys listed per range")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *table == "" && (*repair || *source != "") {
		return jobs.UsageError(fmt.Errorf("--repair and --source need --table"))
	}
	je, err := loadJob(env, *cfgPath)
	if err != nil {
		return err
	}
	if *table != "" {
		return runValidateTable(ctx, je, jobs.TableCheckOptions{
			Table: *table, Source: *source, Repair: *repair, RangeRows: *rangeRows, MaxKeys: *maxKeys,
		}, *asJSON)
	}
	checks, err := jobs.ValidateConfig(ctx, je.cfg, je.logger)
	if *asJSON {
		enc := json.NewEncoder(je.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(checks); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		jobs.WriteChecks(je.stdout, checks)
	}
	if err != nil {
		// Unreachable is retryable; a check failure is reported per line above.
		return je.fail(fmt.Errorf("%w: %w", err, errUnreachable))
	}
	return nil
}

// runValidateTable prints the comparison (also when it fails half-way, as
// far as it got) and returns its error for the exit code.
func runValidateTable(ctx context.Context, je *jobEnv, opts jobs.TableCheckOptions, asJSON bool) error {
	res, err := jobs.CheckTable(ctx, je.cfg, opts, je.logger)
	if res != nil {
		var werr error
		if asJSON {
			enc := json.NewEncoder(je.stdout)
			enc.SetIndent("", "  ")
			werr = enc.Encode(res)
		} else {
			werr = res.WriteText(je.stdout)
		}
		if werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return je.fail(err)
	}
	return nil
}

// errUnreachable classifies a failed validate as ExitRetryable.
var errUnreachable = retryableError{}

type retryableError struct{}

func (retryableError) Error() string   { return "not reachable" }
func (retryableError) Transient() bool { return true }
