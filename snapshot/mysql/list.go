package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	gosql "github.com/go-sql-driver/mysql"
)

// ListTables returns the server's base tables as "db.table" (the names
// capture/mysql filters and Config.Tables takes), outside the system
// databases (mysql, sys, information_schema, performance_schema), sorted.
// Views, sequences and MariaDB system-versioned tables are left out: the
// snapshot reads base tables only. Only Addr, User and Password of cfg are
// used; the error never holds the password.
func ListTables(ctx context.Context, cfg Config) ([]string, error) {
	if cfg.Addr == "" {
		return nil, errors.New("mysql list tables: Addr is empty")
	}
	dc := gosql.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr = cfg.User, cfg.Password, "tcp", cfg.Addr
	dc.Timeout = 10 * time.Second
	conn, err := gosql.NewConnector(dc)
	if err != nil {
		return nil, errors.New("mysql list tables: invalid connection settings")
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, `
SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES
WHERE TABLE_TYPE = 'BASE TABLE'
  AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')
ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("mysql list tables on %s: %w", cfg.Addr, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("mysql list tables: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql list tables: %w", err)
	}
	return out, nil
}
