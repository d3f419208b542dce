package mysql

import (
	"context"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
)

// masterStatus reads the server's binlog file and offset with our own
// query, to bracket what ServerPosition reports.
func masterStatus(t *testing.T, conn *client.Conn) (string, uint64) {
	t.Helper()
	r, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	file, _ := r.GetStringByName(0, "File")
	pos, _ := r.GetUintByName(0, "Position")
	return file, pos
}

func TestServerPosition(t *testing.T) {
	conn, db, cfg := testDB(t)
	mustExec(t, conn, "CREATE TABLE "+db+".t (id INT PRIMARY KEY)")
	mustExec(t, conn, "INSERT INTO "+db+".t VALUES (1)")
	beforeFile, beforePos := masterStatus(t, conn)
	ctx := context.Background()
	got, err := ServerPosition(ctx, Config{Addr: cfg.Addr, User: cfg.User, Password: cfg.Password, Flavor: FlavorMariaDB, TopicPrefix: "srv"})
	if err != nil {
		t.Fatalf("ServerPosition: %v", err)
	}
	afterFile, afterPos := masterStatus(t, conn)
	p, err := parsePosition(got.Position)
	if err != nil {
		t.Fatalf("ServerPosition returned %q: %v", got.Position, err)
	}
	if beforeFile == afterFile && (p.File != beforeFile || p.Pos < beforePos || p.Pos > afterPos) {
		t.Errorf("position %s, want %s between %d and %d", got.Position, beforeFile, beforePos, afterPos)
	}
	if p.GTID == "" || strings.Count(p.GTID, "-") < 2 {
		t.Errorf("GTID of %q: want a MariaDB GTID set after an insert", got.Position)
	}
	var listed bool
	for _, f := range got.Files {
		listed = listed || f.Name == p.File && f.Size >= p.Pos
	}
	if !listed {
		t.Errorf("Files %v do not hold %s up to %d", got.Files, p.File, p.Pos)
	}

	_, err = ServerPosition(ctx, Config{Addr: cfg.Addr, User: cfg.User, Password: cfg.Password, Flavor: FlavorMySQL, TopicPrefix: "srv"})
	if err == nil || !strings.Contains(err.Error(), "flavor") {
		t.Errorf("ServerPosition with flavor mysql on MariaDB: err %v, want a flavor mismatch", err)
	}
}
