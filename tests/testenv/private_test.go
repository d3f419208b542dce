package testenv

import (
	"context"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
)

// TestPrivatePostgresRestart: a committed row survives a crash restart
// (immediate stop) of the private server, which answers on the same DSN.
func TestPrivatePostgresRestart(t *testing.T) {
	p := NewPrivatePostgres(t)
	ctx := context.Background()
	exec := func(sql string) int {
		conn, err := pgx.Connect(ctx, p.DSN())
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	exec("WITH c AS (SELECT 1) SELECT 0") // connects
	conn, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE r AS SELECT 1 AS id UNION ALL SELECT 2"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if got := exec("SELECT count(*) FROM pg_settings WHERE name = 'wal_level' AND setting = 'logical'"); got != 1 {
		t.Errorf("wal_level is not logical")
	}
	p.Restart(true)
	p.Restart(false)
	if got := exec("SELECT count(*) FROM r"); got != 2 {
		t.Errorf("after restarts: %d rows, want 2", got)
	}
}

// TestPrivateMariaDBRestart: the same for MariaDB, killed with SIGKILL.
func TestPrivateMariaDBRestart(t *testing.T) {
	m := NewPrivateMariaDB(t)
	query := func(sql string) int64 {
		cfg := m.Config()
		conn, err := client.Connect(cfg.Addr, cfg.User, cfg.Password, "")
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close()
		res, err := conn.Execute(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if res.Resultset == nil || res.RowNumber() == 0 {
			return -1
		}
		n, _ := res.GetInt(0, 0)
		return n
	}
	query("CREATE DATABASE d")
	query("CREATE TABLE d.r (id int PRIMARY KEY) ENGINE=InnoDB")
	query("INSERT INTO d.r VALUES (1), (2)")
	m.Restart(true)
	m.Restart(false)
	if got := query("SELECT count(*) FROM d.r"); got != 2 {
		t.Errorf("after restarts: %d rows, want 2", got)
	}
	if got := query("SELECT @@log_bin"); got != 1 {
		t.Errorf("log_bin = %d, want 1", got)
	}
}
