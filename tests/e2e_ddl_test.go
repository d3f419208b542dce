package tests

// DDL in mid-stream: the random workload interleaves ALTER TABLE (columns
// added with and without a DEFAULT, types widened) with its writes while
// capture runs, and every SCD1 table must still equal its source table
// after each round (our reader and DuckDB). What sluice promises is in
// docs/testing.md: an added column appears at the end of the SCD1 table,
// NULL for rows unchanged since (workload.LakeNulls); a widened type widens
// the SCD1 column.

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

// ddlRounds: a first round of writes with a few schema changes among them,
// a second with the rest (RunDDL stops altering once all are applied), so
// the comparison runs both mid-way and after every change.
func ddlRounds() []round {
	ops := soakCount(150, 1500)
	return []round{
		func(ctx context.Context, w *workload.Workload, db workload.Execer) error {
			if err := w.Run(ctx, db, ops); err != nil {
				return err
			}
			return w.RunDDL(ctx, db, ops, 4)
		},
		func(ctx context.Context, w *workload.Workload, db workload.Execer) error {
			return w.RunDDL(ctx, db, ops, 20)
		},
	}
}

// TestE2EPostgresDDL: PostgreSQL (pgoutput sends a new Relation message
// before the first change after an ALTER; the table rewrite of ALTER TYPE
// is not decoded).
func TestE2EPostgresDDL(t *testing.T) {
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	runPostgresE2E(t, store, func() string { return dir }, ddlRounds())
}

// TestE2EMariaDBDDL: MariaDB (the DDL is a query event in the binlog;
// capture rereads the table's shape after it).
func TestE2EMariaDBDDL(t *testing.T) {
	runMariaDBE2E(t, e2eSetup{brokers: testenv.Kafka(t)}, testenv.MySQL(t), ddlRounds())
}
