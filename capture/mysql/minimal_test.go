package mysql

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestMinimalRowImage: with binlog_row_image=MINIMAL the server logs only
// the key in before images and only the changed columns in after images.
// Every column the server left out must reach Kafka as "unavailable" (a
// placeholder for types Debezium has one for, an absent field for the
// rest), never as null or a zero value, so the merge keeps the old value.
func TestMinimalRowImageDecimalUnavailable(t *testing.T) {
	conn, db, cfg := testDB(t)
	mustExec(t, conn, `CREATE TABLE m (id INT PRIMARY KEY, n INT, d DATE, f DOUBLE,
		s VARCHAR(20), b BLOB, dec1 DECIMAL(10,2), ts DATETIME(3))`)
	mustExec(t, conn, `INSERT INTO m VALUES (1, 10, '2024-01-02', 1.5, 'x', 'bb', 3.25, '2024-01-02 03:04:05.678')`)
	s := newSource(t, cfg, db, nil)
	from := startPosition(t, s)
	// Session scope: the harness's server default stays FULL for the
	// other tests sharing it.
	mustExec(t, conn, "SET SESSION binlog_row_image = 'MINIMAL'")
	mustExec(t, conn, "UPDATE m SET n = 11 WHERE id = 1")
	mustExec(t, conn, "DELETE FROM m WHERE id = 1")
	batches := collect(t, s, from, 2)
	upd, del := batches[0].Changes[0], batches[1].Changes[0]
	if upd.Op != schemas.OpUpdate || del.Op != schemas.OpDelete {
		t.Fatalf("ops = %v, %v; want u, d", upd.Op, del.Op)
	}

	// The changed column and the key are there; the key was filled in
	// from the before image, because a minimal after image lacks it.
	if got := value(t, upd, "n"); got != int32(11) {
		t.Errorf("after n = %#v, want int32(11)", got)
	}
	if got := value(t, upd, "id"); got != int32(1) {
		t.Errorf("after id = %#v, want int32(1)", got)
	}
	for _, col := range []string{"d", "f", "s", "b", "dec1", "ts"} {
		if got := value(t, upd, col); got != (schemas.Unavailable{}) {
			t.Errorf("after %s = %#v, want Unavailable", col, got)
		}
		if got := value(t, del, col); got != (schemas.Unavailable{}) {
			t.Errorf("delete before %s = %#v, want Unavailable", col, got)
		}
	}

	// Encoded as Debezium does, and decoded back by the consumer side:
	// string and bytes columns carry the placeholder (ToDeltaValue says
	// ErrUnavailable), other types are absent from the row object.
	for _, withSchema := range []bool{false, true} {
		val, err := schemas.EncodeValue(&upd, withSchema)
		if err != nil {
			t.Fatalf("encode update (schema %v): %v", withSchema, err)
		}
		env, err := schemas.DecodeEnvelope(val)
		if err != nil {
			t.Fatalf("decode update: %v\n%s", err, val)
		}
		fields := map[string]string{}
		for _, f := range env.After {
			fields[f.Name] = string(f.Raw)
		}
		want := map[string]string{
			"id": "1", "n": "11",
			"s": `"` + schemas.UnavailablePlaceholder + `"`,
		}
		for name, raw := range want {
			if fields[name] != raw {
				t.Errorf("schema %v: after.%s = %s, want %s", withSchema, name, fields[name], raw)
			}
		}
		for _, name := range []string{"d", "f", "ts", "dec1"} {
			if raw, ok := fields[name]; ok {
				t.Errorf("schema %v: after.%s = %s, want the field absent", withSchema, name, raw)
			}
		}
		// Blobs carry the placeholder's bytes, base64. A precise
		// decimal's bytes would read as a number, so it is left out
		// (regression: it used to carry the placeholder, and the merge
		// failed on a "decimal that does not fit").
		for _, name := range []string{"b"} {
			if _, ok := fields[name]; !ok {
				t.Errorf("schema %v: after.%s absent, want the bytes placeholder", withSchema, name)
			}
		}
		for _, col := range upd.Columns {
			if col.Name != "s" && col.Name != "b" {
				continue
			}
			_, err := schemas.ToDeltaValue(col, []byte(fields[col.Name]))
			if !errors.Is(err, schemas.ErrUnavailable) {
				t.Errorf("schema %v: ToDeltaValue(%s, %s) error = %v, want ErrUnavailable", withSchema, col.Name, fields[col.Name], err)
			}
		}
		if withSchema {
			// The schema still lists every column, so the consumer knows
			// the absent ones exist and are unavailable, not dropped.
			if got := len(env.Columns()); got != 8 {
				t.Errorf("schema lists %d columns, want 8", got)
			}
		}
	}
	if _, err := schemas.EncodeKey(&del, false); err != nil {
		t.Errorf("encode delete key: %v", err)
	}
}
