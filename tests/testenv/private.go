package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A private database server belongs to one test, which may stop, restart or
// kill it without disturbing anyone: the harness's shared servers are used
// by every test of the run. It is started from the same binaries and with
// the same settings as scripts/testenv.sh, on a free loopback port, with its
// data in a directory of its own under SLUICE_TESTENV_ROOT (default
// /tmp/sluice-testenv; not t.TempDir, which user postgres may not enter),
// and is stopped and removed by t.Cleanup. Missing binaries skip the test,
// or fail it under CI=true.
//
// One difference from the shared servers: the private MariaDB writes its
// redo log at every commit (innodb_flush_log_at_trx_commit=2, to the OS, not
// to disk), so that a killed server loses no committed transaction. The
// PostgreSQL WAL is written at commit even with fsync=off.

// PrivatePostgres is a PostgreSQL 15 server of one test.
type PrivatePostgres struct {
	t      testing.TB
	bin    string
	dir    string
	port   int
	asUser bool // run server binaries through runuser -u postgres (we are root)
	mu     sync.Mutex
}

// NewPrivatePostgres starts a private PostgreSQL 15 server (wal_level=logical).
func NewPrivatePostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	bin := envOr("SLUICE_PGBIN", "/usr/lib/postgresql/15/bin")
	for _, b := range []string{"initdb", "pg_ctl", "pg_isready"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing(t, fmt.Sprintf("PostgreSQL binary %s not found in %s (set SLUICE_PGBIN)", b, bin))
		}
	}
	p := &PrivatePostgres{t: t, bin: bin, asUser: os.Geteuid() == 0}
	p.dir = privateDir(t, "pg")
	if p.asUser {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "user postgres missing (install postgresql-15)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(p.dir, uid, gid); err != nil {
			t.Fatalf("private postgres: %v", err)
		}
	}
	p.port = freePort(t)
	if out, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync"); err != nil {
		t.Fatalf("private postgres: initdb: %v\n%s", err, out)
	}
	t.Cleanup(p.Stop)
	p.start()
	return p
}

func (p *PrivatePostgres) data() string { return filepath.Join(p.dir, "data") }

// run runs a PostgreSQL binary in the server's directory, as postgres when
// we are root (initdb and pg_ctl refuse root).
func (p *PrivatePostgres) run(name string, args ...string) ([]byte, error) {
	argv := append([]string{filepath.Join(p.bin, name)}, args...)
	if p.asUser {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.dir
	return cmd.CombinedOutput()
}

func (p *PrivatePostgres) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c wal_level=logical "+
		"-c max_replication_slots=20 -c max_wal_senders=20 -c fsync=off -c full_page_writes=off", p.port, p.dir)
	if out, err := p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60",
		"start", "-o", opts); err != nil {
		p.t.Fatalf("private postgres: start: %v\n%s\n%s", err, out, p.Log())
	}
	waitFor(p.t, "private postgres", func() bool {
		_, err := p.run("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres")
		return err == nil
	})
}

// DSN returns the libpq URL of database "postgres" as superuser postgres.
func (p *PrivatePostgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Restart stops the server and starts it again on the same port and data.
// With crash set the stop is "immediate" (no shutdown checkpoint; the next
// start runs crash recovery, as after a kill), else "fast".
func (p *PrivatePostgres) Restart(crash bool) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	mode := "fast"
	if crash {
		mode = "immediate"
	}
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		p.t.Fatalf("private postgres: stop -m %s: %v\n%s", mode, err, out)
	}
	p.start()
}

// Stop stops the server and removes its data. Idempotent.
func (p *PrivatePostgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err == nil {
		_, _ = p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "-t", "30", "stop")
	}
	_ = os.RemoveAll(p.dir)
}

// Log returns the tail of the server log.
func (p *PrivatePostgres) Log() string { return tail(filepath.Join(p.dir, "server.log")) }

// PrivateMariaDB is a MariaDB server of one test (row binlog, full row
// image and metadata, as the harness's).
type PrivateMariaDB struct {
	t    testing.TB
	dir  string
	port int
	user string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// NewPrivateMariaDB starts a private MariaDB server.
func NewPrivateMariaDB(t testing.TB) *PrivateMariaDB {
	t.Helper()
	for _, b := range []string{"mariadb-install-db", "mariadbd", "mariadb"} {
		if _, err := exec.LookPath(b); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/sbin", b)); err != nil {
				missing(t, "MariaDB binary "+b+" not found (run scripts/install-deps.sh)")
			}
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("private mariadb: %v", err)
	}
	m := &PrivateMariaDB{t: t, dir: privateDir(t, "mysql"), user: u.Username}
	m.port = freePort(t)
	cmd := exec.Command(lookBin("mariadb-install-db"), "--no-defaults", "--datadir="+m.data(), "--user="+m.user,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("private mariadb: mariadb-install-db: %v\n%s", err, out)
	}
	t.Cleanup(m.Stop)
	m.start()
	return m
}

func (m *PrivateMariaDB) data() string { return filepath.Join(m.dir, "data") }

func (m *PrivateMariaDB) start() {
	m.t.Helper()
	logf, err := os.OpenFile(filepath.Join(m.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		m.t.Fatalf("private mariadb: %v", err)
	}
	cmd := exec.Command(lookBin("mariadbd"), "--no-defaults", "--user="+m.user, "--datadir="+m.data(),
		"--socket="+filepath.Join(m.dir, "sock"), "--pid-file="+filepath.Join(m.dir, "mariadbd.pid"),
		"--bind-address=127.0.0.1", "--port="+strconv.Itoa(m.port), "--skip-name-resolve", "--server-id=1",
		"--log-bin="+filepath.Join(m.data(), "binlog"), "--binlog-format=ROW", "--binlog-row-image=FULL",
		"--binlog-row-metadata=FULL", "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0",
		"--innodb-buffer-pool-size=64M", "--innodb-log-file-size=8M")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		m.t.Fatalf("private mariadb: start: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	m.cmd, m.done = cmd, done
	client := lookBin("mariadb")
	waitFor(m.t, "private mariadb", func() bool {
		select {
		case <-done:
			m.t.Fatalf("private mariadb exited during startup:\n%s", m.Log())
		default:
		}
		return exec.Command(client, "--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", strconv.Itoa(m.port),
			"-u", "root", "-e", "select 1").Run() == nil
	})
}

// Config returns the server's address and root credentials.
func (m *PrivateMariaDB) Config() MySQLConfig {
	return MySQLConfig{Addr: "127.0.0.1:" + strconv.Itoa(m.port), User: "root"}
}

// Restart stops the server and starts it again on the same port and data:
// with crash set by SIGKILL (InnoDB and binlog crash recovery), else by
// SIGTERM (clean shutdown).
func (m *PrivateMariaDB) Restart(crash bool) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stop(crash)
	m.start()
}

func (m *PrivateMariaDB) stop(crash bool) {
	if m.cmd == nil {
		return
	}
	sig := syscall.SIGTERM
	if crash {
		sig = syscall.SIGKILL
	}
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(60 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// Stop stops the server and removes its data. Idempotent.
func (m *PrivateMariaDB) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stop(true)
	_ = os.RemoveAll(m.dir)
}

// Log returns the tail of the server log.
func (m *PrivateMariaDB) Log() string { return tail(filepath.Join(m.dir, "server.log")) }

// missing skips the test, or fails it under CI=true (a broken harness must
// not pass as "skipped").
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", name)
}

// privateDir makes a world-readable directory for one private server.
func privateDir(t testing.TB, kind string) string {
	t.Helper()
	root := envOr("SLUICE_TESTENV_ROOT", "/tmp/sluice-testenv")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatalf("private %s: %v", kind, err)
	}
	dir, err := os.MkdirTemp(root, "private-"+kind+"-")
	if err != nil {
		t.Fatalf("private %s: %v", kind, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("private %s: %v", kind, err)
	}
	return dir
}

// freePort returns a loopback port nobody listens on, in 20000–31999 like
// scripts/testenv.sh: below the kernel's ephemeral range, so outgoing
// connections do not take it between the check and the server's bind.
func freePort(t testing.TB) int {
	t.Helper()
	for range 500 {
		port := 20000 + rand.IntN(12000)
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free loopback port")
	return 0
}

func waitFor(t testing.TB, what string, ready func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for !ready() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s not ready after 90s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}
