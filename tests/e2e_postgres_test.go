package tests

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/postgres"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/s3blob"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

// pgExec runs workload statements on one PostgreSQL session.
type pgExec struct{ conn *pgx.Conn }

func (p pgExec) Exec(ctx context.Context, sql string) error {
	_, err := p.conn.Exec(ctx, sql)
	return err
}

// newPostgresDB creates a fresh database, dropped (with its slots) when the
// test ends, and returns its name and DSN.
func newPostgresDB(t *testing.T) (name, dsn string) {
	t.Helper()
	return newPostgresDBOn(t, testenv.PostgresDSN(t))
}

// newPostgresDBOn is newPostgresDB on the server of the superuser DSN admin.
func newPostgresDBOn(t *testing.T, admin string) (name, dsn string) {
	t.Helper()
	name = testenv.UniqueName("e2e")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		for range 50 { // the capture's walsender may take a moment to go
			if _, err := c.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, name); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, _ = c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
	})
	return name, u.String()
}

// pgSession is a workload.Execer on one PostgreSQL session that
// reconnects after reset (a restart of the server broke the session).
type pgSession struct {
	dsn string
	c   *pgx.Conn
}

func (s *pgSession) Exec(ctx context.Context, sql string) error {
	if s.c == nil || s.c.IsClosed() {
		c, err := pgx.Connect(ctx, s.dsn)
		if err != nil {
			return err
		}
		s.c = c
	}
	_, err := s.c.Exec(ctx, sql)
	return err
}

// conn returns the session's connection, connecting if needed.
func (s *pgSession) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	if err := s.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return s.c
}

// reset drops the connection; the next use reconnects.
func (s *pgSession) reset() {
	if s.c != nil {
		_ = s.c.Close(context.Background())
		s.c = nil
	}
}

// slotStreamingSQL is true once a walsender streams from slot $1. A slot
// shows active as soon as its creation starts, but creation first waits
// for every transaction running on the server (other packages' too), and
// writes made before it ends are not captured: so wait for streaming.
const slotStreamingSQL = `SELECT EXISTS (SELECT 1 FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
	WHERE s.slot_name = $1 AND r.state IN ('catchup', 'streaming'))`

// waitSlotActive blocks until a walsender streams from slot, so that every
// later write is captured.
func waitSlotActive(t *testing.T, conn *pgx.Conn, slot string) {
	t.Helper()
	ctx := context.Background()
	for range 2400 {
		var streaming bool
		err := conn.QueryRow(ctx, slotStreamingSQL, slot).Scan(&streaming)
		if err == nil && streaming {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("slot %s never streamed", slot)
}

// pgText renders a column as text in the canonical form (before
// canonText): see e2e_compare_test.go.
func pgText(c workload.Column) string {
	switch c.Kind {
	case workload.KindBytes:
		return "encode(" + c.Name + ", 'hex')"
	case workload.KindDate:
		return "to_char(" + c.Name + ", 'YYYY-MM-DD')"
	case workload.KindTs:
		return "to_char(" + c.Name + ", 'YYYY-MM-DD HH24:MI:SS.US')"
	case workload.KindTsTz:
		return "to_char(" + c.Name + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
	case workload.KindTime:
		return "(extract(epoch FROM " + c.Name + ") * 1000000)::bigint::text"
	}
	return c.Name + "::text"
}

func readPostgres(t *testing.T, conn *pgx.Conn, wt workload.Table) rowSet {
	t.Helper()
	ctx := context.Background()
	var exprs []string
	for _, c := range wt.Columns {
		exprs = append(exprs, pgText(c))
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(exprs, ", "), wt.Name))
	if err != nil {
		t.Fatalf("read source %s: %v", wt.Name, err)
	}
	defer rows.Close()
	out := rowSet{}
	for rows.Next() {
		ptrs := make([]*string, len(wt.Columns))
		dest := make([]any, len(ptrs))
		for i := range ptrs {
			dest[i] = &ptrs[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("read source %s: %v", wt.Name, err)
		}
		vals := make([]string, len(wt.Columns))
		for i, p := range ptrs {
			if p == nil {
				vals[i] = nullText
				continue
			}
			s, err := canonText(wt.Columns[i].Kind, *p)
			if err != nil {
				t.Fatalf("source %s column %s: %v", wt.Name, wt.Columns[i].Name, err)
			}
			vals[i] = s
		}
		out[keyOf(wt, vals)] = vals
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read source %s: %v", wt.Name, err)
	}
	return out
}

// TestE2EPostgresToSCD1 streams a random workload from a fresh PostgreSQL
// database through capture, Kafka, ingest and merge (twice, the second
// merge incremental) and checks after each round that every SCD1 table
// equals its source table, read with our reader and with DuckDB.
func TestE2EPostgresToSCD1(t *testing.T) {
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	runPostgresE2E(t, store, func() string { return dir }, workloadRounds(250, 150))
}

// workloadRounds returns one round per count, each running that many random
// operations.
func workloadRounds(ops ...int) []round {
	var rs []round
	for _, n := range ops {
		rs = append(rs, func(ctx context.Context, w *workload.Workload, db workload.Execer) error { return w.Run(ctx, db, n) })
	}
	return rs
}

// round writes to the source before one ingest+merge+compare.
type round func(ctx context.Context, w *workload.Workload, db workload.Execer) error

// TestE2EPostgresToastKeyChange: a primary-key change that leaves a TOASTed
// column untouched. pgoutput sends the new tuple with that column
// "unchanged" (capture: __debezium_unavailable_value), and capture, like
// Debezium, emits the key change as a delete of the old key and a create of
// the new one; the SCD1 row of the new key must still hold the value.
func TestE2EPostgresToastKeyChange(t *testing.T) {
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	big := "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i)" // 12.8 KB
	runPostgresE2E(t, store, func() string { return dir }, []round{
		func(ctx context.Context, w *workload.Workload, db workload.Execer) error {
			for _, s := range []string{
				"INSERT INTO e2e_types (id, c_int4, c_big) VALUES (1, 10, " + big + ")",
				"INSERT INTO e2e_types (id, c_int4, c_big) VALUES (2, 20, " + big + ")",
				"UPDATE e2e_types SET id = 100 WHERE id = 1",              // key change only
				"UPDATE e2e_types SET id = 200, c_int4 = 21 WHERE id = 2", // key and another column
			} {
				if err := db.Exec(ctx, s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			return nil
		},
	})
}

// TestE2EPostgresToSCD1OnS3 is TestE2EPostgresToSCD1 with the warehouse
// (raw and SCD1 tables) on S3 (the harness's versitygw). DuckDB reads a
// local copy of the SCD1 tables' objects.
func TestE2EPostgresToSCD1OnS3(t *testing.T) {
	s3cfg := testenv.S3(t)
	store, err := s3blob.New(context.Background(), s3blob.Options{
		Bucket: s3cfg.Bucket, Prefix: testenv.UniqueName("e2e") + "/", Region: s3cfg.Region,
		Endpoint: s3cfg.Endpoint, PathStyle: true,
		AccessKeyID: s3cfg.AccessKey, SecretAccessKey: s3cfg.SecretKey,
	})
	if err != nil {
		t.Fatalf("s3blob.New: %v", err)
	}
	runPostgresE2E(t, store, func() string { return copyToDir(t, store, e2eTablesRoot) }, workloadRounds(250, 150))
}

// copyToDir copies the objects under prefix to a new local directory,
// keeping their keys as paths, and returns the directory.
func copyToDir(t *testing.T, store blob.Store, prefix string) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	for obj, err := range store.List(ctx, prefix+"/") {
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		rc, err := store.Get(ctx, obj.Key)
		if err != nil {
			t.Fatalf("get %s: %v", obj.Key, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("get %s: %v", obj.Key, err)
		}
		path := filepath.Join(dir, filepath.FromSlash(obj.Key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runPostgresE2E runs the PostgreSQL suite on store; localDir returns a
// local directory holding the store's objects (called before each
// comparison) for DuckDB.
func runPostgresE2E(t *testing.T, store blob.Store, localDir func() string, rounds []round) {
	runPostgresE2EOn(t, e2eSetup{brokers: testenv.Kafka(t), pgAdmin: testenv.PostgresDSN(t)}, store, localDir, rounds)
}

// e2eSetup says where a pipeline run gets its services and how capture runs.
type e2eSetup struct {
	brokers []string
	pgAdmin string // superuser DSN of the PostgreSQL server
	// restarting runs capture under capture.RunWithRestarts (a new Source
	// after every error, as the sluice command does) instead of failing the
	// test on its first error.
	restarting bool
	// stats, when set, is capture's Config.Stats (restart counts).
	stats *capture.Stats
	// beforeIngest, when set, runs after each round's marker reached Kafka
	// and before that round's ingest (e.g. to switch injected faults off).
	beforeIngest func()
	// seed, when not 0, is the workload's seed (else e2eSeed).
	seed uint64
	// timeout bounds the whole run (default 3 minutes).
	timeout time.Duration
}

func (s e2eSetup) workloadSeed(t *testing.T) uint64 {
	if s.seed != 0 {
		return s.seed
	}
	return e2eSeed(t)
}

func (s e2eSetup) runTimeout() time.Duration {
	if s.timeout > 0 {
		return s.timeout
	}
	return 3 * time.Minute
}

// startCapture runs capture for the setup: a failure ends the test, or,
// with restarting, restarts capture with a fresh Source from open.
func (s e2eSetup) startCapture(t *testing.T, open func(context.Context) (capture.Source, error), cfg capture.Config) (stop func()) {
	t.Helper()
	cfg.Stats = s.stats
	if !s.restarting {
		src, err := open(context.Background())
		if err != nil {
			t.Fatalf("open source: %v", err)
		}
		return runCapture(t, src, cfg)
	}
	return runCaptureRestarting(t, open, cfg)
}

func runPostgresE2EOn(t *testing.T, setup e2eSetup, store blob.Store, localDir func() string, rounds []round) {
	brokers := setup.brokers
	dbName, dsn := newPostgresDBOn(t, setup.pgAdmin)
	seed := setup.workloadSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (replay: SLUICE_E2E_SEED=%d go test -run '%s' ./tests/)", seed, seed, t.Name())
		}
	})
	w := workload.New(workload.Postgres, seed)
	// Key changes that leave the TOASTed column untouched are part of the
	// random workload (the bug TestE2EPostgresToastKeyChange reproduces is
	// fixed); SLUICE_E2E_TOAST_KEYCHANGES=0 makes every key change assign it.
	w.KeyChangesSetBig = os.Getenv("SLUICE_E2E_TOAST_KEYCHANGES") == "0"
	ctx, cancel := context.WithTimeout(context.Background(), setup.runTimeout())
	defer cancel()

	db := &pgSession{dsn: dsn}
	defer db.reset()
	conn := db.conn(t)
	if err := w.Setup(ctx, db); err != nil {
		t.Fatal(err)
	}

	prefix := testenv.UniqueName("e2epg")
	slot := dbName + "_slot"
	t.Logf("database %s, topics %s.public.*", dbName, prefix)
	var tables []string
	for _, wt := range w.Tables() {
		tables = append(tables, "public."+wt.Name)
	}
	open := func(ctx context.Context) (capture.Source, error) {
		src, err := postgres.New(ctx, postgres.Config{DSN: dsn, SlotName: slot, Publication: "e2e_pub", Tables: tables, TopicPrefix: prefix}, e2eLogger(t))
		if err != nil {
			return nil, fmt.Errorf("postgres.New: %w", err)
		}
		return src, nil
	}
	stopCapture := setup.startCapture(t, open, capture.Config{
		Kafka:            capture.KafkaConfig{Brokers: brokers},
		SourceName:       prefix,
		TopicPrefix:      prefix,
		WithSchema:       true,
		AutoCreateTopics: true,
	})
	waitSlotActive(t, conn, slot)
	markers := newMarkerWatch(t, brokers, prefix+".public."+workload.MarkerTable)
	l := newLake(store, brokers, topicRegex(prefix, "public"))

	for round, write := range rounds {
		if err := write(ctx, w, db); err != nil {
			t.Fatal(err)
		}
		note := fmt.Sprintf("drain-%d-%s", round, prefix)
		if _, err := w.Marker(ctx, db, note); err != nil {
			t.Fatal(err)
		}
		markers.wait(t, note, 90*time.Second)
		if setup.beforeIngest != nil {
			setup.beforeIngest()
		}
		l.ingestAndMerge(t, round)
		checkRawOnce(t, l)
		compareAll(t, w, l, dbName, "public", localDir(), func(wt workload.Table) rowSet { return readPostgres(t, db.conn(t), wt) })
		if t.Failed() {
			break
		}
	}
	stopCapture()
	t.Logf("seed %d: workload %+v", seed, w.Stats())
}
