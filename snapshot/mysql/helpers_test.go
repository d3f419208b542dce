package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"

	gosql "github.com/go-sql-driver/mysql"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/tests/testenv"
)

// testDB creates a fresh database on the harness's MariaDB and returns a
// pool using it, its name and the server settings.
func testDB(t testing.TB) (*sql.DB, string, testenv.MySQLConfig) {
	t.Helper()
	cfg := testenv.MySQL(t)
	name := testenv.UniqueName("snap")
	root := openDB(t, cfg, "")
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = root.Exec("DROP DATABASE " + name) })
	return openDB(t, cfg, name), name, cfg
}

func openDB(t testing.TB, cfg testenv.MySQLConfig, db string) *sql.DB {
	t.Helper()
	dc := gosql.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr, dc.DBName = cfg.User, cfg.Password, "tcp", cfg.Addr, db
	dc.Params = map[string]string{"time_zone": "'+00:00'"}
	conn, err := gosql.NewConnector(dc)
	if err != nil {
		t.Fatal(err)
	}
	pool := sql.OpenDB(conn)
	t.Cleanup(func() { pool.Close() })
	return pool
}

func exec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func newSource(t testing.TB, cfg testenv.MySQLConfig, tables ...string) *Source {
	t.Helper()
	src, err := New(context.Background(), Config{
		Addr: cfg.Addr, User: cfg.User, Password: cfg.Password, Flavor: FlavorMariaDB, Tables: tables,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newRaw(t testing.TB) *lakelog.Table {
	t.Helper()
	store, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lakelog.Open(store, lakelog.Options{})
}

// rawRow is one snapshot row read back from the raw table, with the
// envelope parsed by encoding/json (not by our code).
type rawRow struct {
	topic, op, orderingKey, batchID string
	snapshot                        bool
	key                             map[string]any
	after                           map[string]any
	sourceSnapshot                  string
	file                            string
	pos                             float64
}

func readRaw(t testing.TB, raw *lakelog.Table) []rawRow {
	t.Helper()
	ctx := context.Background()
	snap, err := raw.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	schema := snap.Schema()
	col := map[string]int{}
	for i, f := range schema.Fields {
		col[f.Name] = i
	}
	var out []rawRow
	for _, add := range snap.Files() {
		rows, err := datafile.ReadFile(ctx, raw.Store(), add, schema)
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, ok := rows.Next()
			if !ok {
				break
			}
			var key struct{ Payload map[string]any }
			if err := json.Unmarshal(r[col["key"]].([]byte), &key); err != nil {
				t.Fatalf("key: %v", err)
			}
			var val struct {
				Payload struct {
					After  map[string]any
					Op     string
					Source struct {
						Snapshot string
						File     string
						Pos      float64
					}
				}
			}
			if err := json.Unmarshal(r[col["value"]].([]byte), &val); err != nil {
				t.Fatalf("value: %v", err)
			}
			out = append(out, rawRow{
				topic: r[col["topic"]].(string), op: r[col["op"]].(string),
				orderingKey: r[col["ordering_key"]].(string), batchID: r[col["batch_id"]].(string),
				snapshot: r[col["snapshot"]].(bool), key: key.Payload, after: val.Payload.After,
				sourceSnapshot: val.Payload.Source.Snapshot, file: val.Payload.Source.File, pos: val.Payload.Source.Pos,
			})
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
