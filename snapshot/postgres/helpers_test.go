package postgres

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/tests/testenv"
)

func testPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, dsn
}

func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
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
	sequence                        string
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
						Sequence string
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
				sourceSnapshot: val.Payload.Source.Snapshot, sequence: val.Payload.Source.Sequence,
			})
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
