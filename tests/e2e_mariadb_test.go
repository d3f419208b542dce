package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/mysql"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

// mariaExec runs workload statements on one MariaDB session.
type mariaExec struct{ conn *client.Conn }

func (m mariaExec) Exec(_ context.Context, sql string) error {
	_, err := m.conn.Execute(sql)
	return err
}

// mariaSession is a workload.Execer on one MariaDB session that reconnects
// after reset (a restart of the server broke the session).
type mariaSession struct {
	t   *testing.T
	cfg testenv.MySQLConfig
	db  string
	c   *client.Conn
}

func (s *mariaSession) Exec(_ context.Context, sql string) error {
	_, err := s.conn().Execute(sql)
	return err
}

// conn returns the session's connection, connecting if needed.
func (s *mariaSession) conn() *client.Conn {
	if s.c == nil {
		s.c = mariaConn(s.t, s.cfg, s.db)
	}
	return s.c
}

// reset drops the connection; the next use reconnects.
func (s *mariaSession) reset() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}

// mariaConn opens a session in UTC with utf8mb4 (the workload writes
// TIMESTAMP literals in UTC and 4-byte UTF-8 text).
func mariaConn(t *testing.T, cfg testenv.MySQLConfig, db string) *client.Conn {
	t.Helper()
	conn, err := client.Connect(cfg.Addr, cfg.User, cfg.Password, db)
	if err != nil {
		t.Fatalf("connect %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, s := range []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'"} {
		if _, err := conn.Execute(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return conn
}

func mariaText(c workload.Column) string {
	switch c.Kind {
	case workload.KindBytes:
		return "LOWER(HEX(" + c.Name + "))"
	case workload.KindDate:
		return "DATE_FORMAT(" + c.Name + ", '%Y-%m-%d')"
	case workload.KindTs, workload.KindTsTz: // session time_zone is UTC
		return "DATE_FORMAT(" + c.Name + ", '%Y-%m-%d %H:%i:%s.%f')"
	case workload.KindTime:
		return fmt.Sprintf("CAST((HOUR(%[1]s)*3600 + MINUTE(%[1]s)*60 + SECOND(%[1]s))*1000000 + MICROSECOND(%[1]s) AS CHAR)", c.Name)
	case workload.KindText, workload.KindJSON:
		return c.Name
	}
	return "CAST(" + c.Name + " AS CHAR)"
}

func readMariaDB(t *testing.T, conn *client.Conn, wt workload.Table) rowSet {
	t.Helper()
	var exprs []string
	for _, c := range wt.Columns {
		exprs = append(exprs, mariaText(c))
	}
	res, err := conn.Execute(fmt.Sprintf("SELECT %s FROM %s", strings.Join(exprs, ", "), wt.Name))
	if err != nil {
		t.Fatalf("read source %s: %v", wt.Name, err)
	}
	out := rowSet{}
	for r := range res.RowNumber() {
		vals := make([]string, len(wt.Columns))
		for i, c := range wt.Columns {
			if null, _ := res.IsNull(r, i); null {
				vals[i] = nullText
				continue
			}
			s, err := res.GetString(r, i)
			if err != nil {
				t.Fatalf("read source %s column %s: %v", wt.Name, c.Name, err)
			}
			if vals[i], err = canonText(c.Kind, s); err != nil {
				t.Fatalf("source %s column %s: %v", wt.Name, c.Name, err)
			}
		}
		out[keyOf(wt, vals)] = vals
	}
	return out
}

// waitReplica blocks until a replica with serverID is registered, i.e. the
// capture streams the binlog from a position taken before: every later
// write is captured.
func waitReplica(t *testing.T, conn *client.Conn, serverID uint32) {
	t.Helper()
	for range 600 {
		res, err := conn.Execute("SHOW SLAVE HOSTS")
		if err == nil {
			for r := range res.RowNumber() {
				if id, _ := res.GetUint(r, 0); id == uint64(serverID) {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no replica with server id %d registered", serverID)
}

// TestE2EMariaDBToSCD1 is TestE2EPostgresToSCD1 for MariaDB's binlog.
func TestE2EMariaDBToSCD1(t *testing.T) {
	runMariaDBE2E(t, e2eSetup{brokers: testenv.Kafka(t)}, testenv.MySQL(t), workloadRounds(250, 150))
}

// runMariaDBE2E runs the rounds on a fresh database of the MariaDB server
// cfg, streaming through capture, Kafka, ingest and merge, and compares
// every table after each round.
func runMariaDBE2E(t *testing.T, setup e2eSetup, cfg testenv.MySQLConfig, rounds []round) {
	brokers := setup.brokers
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	seed := setup.workloadSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (replay: SLUICE_E2E_SEED=%d go test -run '%s' ./tests/)", seed, seed, t.Name())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), setup.runTimeout())
	defer cancel()

	dbName := testenv.UniqueName("e2e")
	admin := mariaConn(t, cfg, "")
	if _, err := admin.Execute("CREATE DATABASE " + dbName + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.Execute("DROP DATABASE IF EXISTS " + dbName) })
	db := &mariaSession{t: t, cfg: cfg, db: dbName}
	w := workload.New(workload.MariaDB, seed)
	if err := w.Setup(ctx, db); err != nil {
		t.Fatal(err)
	}

	prefix := testenv.UniqueName("e2emy")
	serverID := 100000 + rand.Uint32N(1<<30) // unique among the shared server's replicas
	t.Logf("database %s, topics %s.%s.*, server id %d, warehouse %s", dbName, prefix, dbName, serverID, dir)
	open := func(ctx context.Context) (capture.Source, error) {
		src, err := mysql.New(ctx, mysql.Config{
			Addr: cfg.Addr, User: cfg.User, Password: cfg.Password,
			ServerID: serverID, Flavor: mysql.FlavorMariaDB,
			Include:     []string{regexp.QuoteMeta(dbName) + `\..*`},
			TopicPrefix: prefix,
		}, e2eLogger(t))
		if err != nil {
			return nil, fmt.Errorf("mysql.New: %w", err)
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
	waitReplica(t, admin, serverID)
	markers := newMarkerWatch(t, brokers, prefix+"."+dbName+"."+workload.MarkerTable)
	l := newLake(store, brokers, topicRegex(prefix, dbName))

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
		compareAll(t, w, l, dbName, "", dir, func(wt workload.Table) rowSet { return readMariaDB(t, db.conn(), wt) })
		if t.Failed() {
			break
		}
	}
	stopCapture()
	t.Logf("seed %d: workload %+v", seed, w.Stats())
}
