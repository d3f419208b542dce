package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosql "github.com/go-sql-driver/mysql"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/tests/testenv"
)

func TestBinlogBytesBehind(t *testing.T) {
	files := []binlogFile{{"bin.000007", 1000}, {"bin.000008", 500}, {"bin.000009", 300}}
	for _, c := range []struct {
		name           string
		stored, server binlogCoord
		want           int64
		ok             bool
	}{
		{"same file", binlogCoord{"bin.000008", 100}, binlogCoord{"bin.000008", 420}, 320, true},
		{"caught up", binlogCoord{"bin.000009", 300}, binlogCoord{"bin.000009", 300}, 0, true},
		// 1000-900 left in .7, all 500 of .8, 250 into .9.
		{"two files on", binlogCoord{"bin.000007", 900}, binlogCoord{"bin.000009", 250}, 100 + 500 + 250, true},
		{"purged", binlogCoord{"bin.000006", 900}, binlogCoord{"bin.000009", 250}, 0, false},
		{"stored ahead of server", binlogCoord{"bin.000009", 200}, binlogCoord{"bin.000008", 10}, 0, false},
	} {
		got, ok := binlogBytesBehind(c.stored, c.server, files)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// mariaCoord is the server's SHOW MASTER STATUS, read by the test itself.
func mariaCoord(t *testing.T, db *sql.DB) binlogCoord {
	t.Helper()
	var file string
	var pos uint64
	var doDB, ignoreDB sql.NullString
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatal(err)
	}
	return binlogCoord{file, pos}
}

func mustCoord(t *testing.T, pos string) binlogCoord {
	t.Helper()
	c, ok := parseStoredBinlogPosition(pos)
	if !ok {
		t.Fatalf("position %q does not parse", pos)
	}
	return c
}

// notBefore reports whether a is at or after b (same file: offset; else
// the file name, whose sequence suffix is fixed-width).
func notBefore(a, b binlogCoord) bool {
	if a.file != b.file {
		return a.file > b.file
	}
	return a.pos >= b.pos
}

// runCapture runs Capture until the test ends and returns its stats.
func runCapture(t *testing.T, cfg *Config) *capture.Stats {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stats := &capture.Stats{}
	done := make(chan error, 1)
	go func() { done <- Capture(ctx, cfg, "", stats, tcLogger()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture: %v", err)
		}
	})
	return stats
}

// TestStatusAndHeartbeatMariaDB, against the harness's MariaDB and Kafka:
//   - status shows the position capture stored (the one capture's own stats
//     report) and the server's, and the binlog bytes between them: at
//     least what the test wrote to another database after capture stopped,
//     at most the distance to the server position read after the status;
//   - with a heartbeat, a capture whose tables are idle stores the position
//     other databases' commits reached, without sending an event.
func TestStatusAndHeartbeatMariaDB(t *testing.T) {
	my := testenv.MySQL(t)
	brokers := testenv.Kafka(t)
	dc := gosql.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr = my.User, my.Password, "tcp", my.Addr
	conn, err := gosql.NewConnector(dc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	defer db.Close()
	captured, other := testenv.UniqueName("stmaria"), testenv.UniqueName("stother")
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, d := range []string{captured, other} {
		exec("CREATE DATABASE " + d)
		t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + d) })
		exec("CREATE TABLE " + d + ".t (id INT PRIMARY KEY, v TEXT)")
	}
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
warehouse: %s
log: {level: warn}
kafka: {brokers: [%s]}
sources:
  - name: %s
    type: mariadb
    topic_prefix: %s
    addr: %s
    user: %s
    password: '${ST_MYSQL_PW}'
    server_id: %d
    include: ['%s\..*']
    heartbeat_interval: 0s
`, filepath.Join(t.TempDir(), "lake"), strings.Join(brokers, ", "), captured, captured, my.Addr, my.User,
		100000+rand.Uint32N(1<<30), captured)), lookupFrom(map[string]string{"ST_MYSQL_PW": my.Password}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Before any capture: the server's position, and no stored one.
	before := mariaCoord(t, db)
	st, err := GetStatus(ctx, cfg, tcLogger())
	if err != nil {
		t.Fatal(err)
	}
	cp := st.Captures[0]
	if !strings.Contains(cp.Error, "no position") || cp.StoredPosition != "" || !notBefore(mustCoord(t, cp.ServerPosition), before) {
		t.Errorf("before capture: %+v, want no stored position and a server position at or after %v", cp, before)
	}

	// A capture without heartbeat stores the position of the captured
	// transaction; stopped, that position stays.
	capCfg := *cfg
	capCfg.Sources = append([]SourceConfig(nil), cfg.Sources...)
	stats := func() *capture.Stats {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := &capture.Stats{}
		done := make(chan error, 1)
		go func() { done <- Capture(ctx, &capCfg, "", s, tcLogger()) }()
		// The capture starts at the server's position when it connects:
		// write until a change arrives.
		for i := 1; s.Events.Load() == 0; i++ {
			if i > 60 {
				t.Fatal("capture sent no change within a minute")
			}
			exec(fmt.Sprintf("INSERT INTO %s.t VALUES (%d, 'captured')", captured, i))
			time.Sleep(time.Second)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("capture: %v", err)
		}
		return s
	}()
	stored := *stats.LastPosition.Load()

	m0 := mariaCoord(t, db)
	for i := range 20 {
		exec(fmt.Sprintf("INSERT INTO %s.t VALUES (%d, '%s')", other, i, strings.Repeat("x", 100)))
	}
	m1 := mariaCoord(t, db)
	st, err = GetStatus(ctx, cfg, tcLogger())
	if err != nil {
		t.Fatal(err)
	}
	m2 := mariaCoord(t, db)
	cp = st.Captures[0]
	if cp.Error != "" || cp.StoredPosition != stored {
		t.Fatalf("status = %+v, want stored position %s (capture's last commit), no error", cp, stored)
	}
	sc := mustCoord(t, stored)
	if m0.file != m2.file || sc.file != m2.file {
		t.Skipf("the binlog rotated during the test (%s, %s, %s)", sc.file, m0.file, m2.file)
	}
	if cp.LagBytes == nil || *cp.LagBytes < int64(m1.pos-m0.pos) || *cp.LagBytes > int64(m2.pos-sc.pos) {
		t.Errorf("lag bytes = %v, want between %d (written to %s after capture stopped) and %d (to the server position after status)",
			optionalInt(cp.LagBytes), m1.pos-m0.pos, other, m2.pos-sc.pos)
	}
	if sp := mustCoord(t, cp.ServerPosition); sp.pos < m1.pos || sp.pos > m2.pos {
		t.Errorf("server position %s, want between %v and %v", cp.ServerPosition, m1, m2)
	}
	var text strings.Builder
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), stored) || !strings.Contains(text.String(), cp.ServerPosition) {
		t.Errorf("status text lacks the stored position %s or the server's %s:\n%s", stored, cp.ServerPosition, text.String())
	}

	// With a heartbeat, the idle capture stores the position the other
	// database's commits reached, sending no change event.
	hb := 300 * time.Millisecond
	capCfg.Sources[0].HeartbeatInterval = &hb
	s2 := runCapture(t, &capCfg)
	waitFor(t, "a heartbeat storing the position past the other database's writes", func() bool {
		p := s2.LastPosition.Load()
		return p != nil && notBefore(mustCoord(t, *p), m1)
	})
	if n := s2.Events.Load(); n != 0 {
		t.Errorf("heartbeat capture sent %d change events, want 0 (only %s changed)", n, other)
	}
	if s2.KafkaTransactions.Load() == 0 || s2.LastKafkaCommitUnixMs.Load() == 0 {
		t.Errorf("capture metrics did not advance: %d Kafka transactions, last commit %d", s2.KafkaTransactions.Load(), s2.LastKafkaCommitUnixMs.Load())
	}
	st, err = GetStatus(ctx, cfg, tcLogger())
	if err != nil {
		t.Fatal(err)
	}
	if cp = st.Captures[0]; cp.Error != "" || !notBefore(mustCoord(t, cp.StoredPosition), m1) {
		t.Errorf("status after heartbeat = %+v, want a stored position at or after %v", cp, m1)
	}
}

// The default heartbeat: on for binlog sources, off for PostgreSQL, and
// 0s turns it off.
func TestSourceHeartbeatDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
warehouse: /x
sources:
  - {name: m, type: mariadb, addr: 'h:3306', user: u, server_id: 9}
  - {name: n, type: mysql, addr: 'h:3306', user: u, server_id: 9, heartbeat_interval: 0s}
  - {name: p, type: postgres, dsn: 'postgres://h/db'}
  - {name: q, type: postgres, dsn: 'postgres://h/db', heartbeat_interval: 1m}
`), lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Duration{10 * time.Second, 0, 0, time.Minute} {
		if got := cfg.Sources[i].heartbeat(); got != want {
			t.Errorf("sources[%d] (%s) heartbeat = %v, want %v", i, cfg.Sources[i].Type, got, want)
		}
	}
	_, err = ParseConfig([]byte("warehouse: /x\nsources: [{name: m, type: mariadb, addr: 'h:1', user: u, server_id: 9, heartbeat_interval: -1s}]\n"), lookupFrom(nil))
	if err == nil || !strings.Contains(err.Error(), "sources[0].heartbeat_interval") {
		t.Errorf("negative heartbeat: err = %v, want it named", err)
	}
}
