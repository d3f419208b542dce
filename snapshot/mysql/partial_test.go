package mysql

import (
	"context"
	"strings"
	"testing"
)

// Tables sets PartialImages from the server's global binlog_row_image: a
// server logging full images (the test harness's, which
// tests/harness_test.go checks) gives false for every table, and a
// session's own MINIMAL does not change it (snapshot.partial_images
// "always" is for that).
func TestTablesPartialImagesFromGlobalRowImage(t *testing.T) {
	db, name, cfg := testDB(t)
	exec(t, db, `CREATE TABLE p (id BIGINT PRIMARY KEY, v INT)`)
	exec(t, db, `SET SESSION binlog_row_image = 'MINIMAL'`)
	var global string
	if err := db.QueryRow(`SELECT @@GLOBAL.binlog_row_image`).Scan(&global); err != nil {
		t.Fatal(err)
	}
	want := !strings.EqualFold(global, "FULL")
	tables, err := newSource(t, cfg, name+".p").Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].PartialImages != want {
		t.Fatalf("global binlog_row_image %s: tables %d, PartialImages %v; want 1 table, %v", global, len(tables), len(tables) == 1 && tables[0].PartialImages, want)
	}
}
