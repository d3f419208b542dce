package tests

// Real Debezium change events, as Debezium's documentation and real
// connectors print them, produced to Kafka by kcat (librdkafka) and by
// franz-go, then ingested and merged step by step. After every step the
// SCD1 table must hold the rows the documentation says the source table
// holds at that point; the expectations are written by hand from the
// documents (tests/testdata/debezium/README.md), never from our output.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/testenv"
)

// dbzRow is one expected SCD1 row: column name → value as text.
type dbzRow map[string]string

// dbzStep is one Kafka record and the SCD1 rows (by key text) expected
// after it is ingested and merged.
type dbzStep struct {
	what   string
	key    int64
	schema []byte // the value with {"schema","payload"}; nil: a tombstone
	bare   []byte // the payload alone; nil: a tombstone
	want   map[string]dbzRow
}

// dbzScenario is a sequence of events on one source table.
type dbzScenario struct {
	name    string
	table   schemas.TableID // where merge must put the SCD1 table
	keyTmpl []byte          // a documented key with schema, its payload replaced per step
	columns []string        // the source columns compared
	steps   []dbzStep
}

func dbzFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("sample %s is not valid JSON", path)
	}
	return b
}

// dbzParts splits a {"schema","payload"} document.
func dbzParts(t *testing.T, doc []byte) (schema, payload json.RawMessage) {
	t.Helper()
	var env struct {
		Schema  json.RawMessage `json:"schema"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(doc, &env); err != nil || env.Schema == nil || env.Payload == nil {
		t.Fatalf("sample is not a {schema, payload} envelope: %v", err)
	}
	return env.Schema, env.Payload
}

// dbzWrapped is a step from a sample printed with its schema; its bare form
// is the payload, as JsonConverter with schemas.enable=false writes it.
func dbzWrapped(t *testing.T, what, path string, key int64, want map[string]dbzRow) dbzStep {
	doc := dbzFile(t, path)
	_, payload := dbzParts(t, doc)
	return dbzStep{what: what, key: key, schema: doc, bare: payload, want: want}
}

// dbzBare is a step from a sample printed as a bare payload; its wrapped
// form borrows the value schema of schemaFrom (the documentation says every
// event of a table has the same value schema, and prints it once).
func dbzBare(t *testing.T, what, path, schemaFrom string, key int64, want map[string]dbzRow) dbzStep {
	bare := dbzFile(t, path)
	schema, _ := dbzParts(t, dbzFile(t, schemaFrom))
	return dbzStep{what: what, key: key, schema: dbzEnvelope(schema, bare), bare: bare, want: want}
}

func dbzEnvelope(schema, payload []byte) []byte {
	return fmt.Appendf(nil, `{"schema":%s,"payload":%s}`, schema, payload)
}

func dbzTombstone(key int64, want map[string]dbzRow) dbzStep {
	return dbzStep{what: "tombstone", key: key, want: want}
}

// key returns the record key for id, with or without the key schema.
func (s *dbzScenario) key(t *testing.T, id int64, withSchema bool) []byte {
	payload := fmt.Appendf(nil, `{"id":%d}`, id)
	if !withSchema {
		return payload
	}
	schema, _ := dbzParts(t, s.keyTmpl)
	return dbzEnvelope(schema, payload)
}

const (
	dbzDir      = "testdata/debezium"
	dbzShared   = "../schemas/testdata/debezium"
	dbzPGCreate = dbzDir + "/pgdoc_customers_create_c.json"
	dbzMyCreate = dbzDir + "/mysqldoc_customers_create_c.json"
)

func dbzScenarios(t *testing.T) []dbzScenario {
	anne := dbzRow{"first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"}
	anneMarie := dbzRow{"first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org"}
	with := func(r dbzRow, id string) dbzRow {
		out := dbzRow{"id": id}
		for k, v := range r {
			out[k] = v
		}
		return out
	}
	none := map[string]dbzRow{}
	pgKey := []byte(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"PostgreSQL_server.public.customers.Key"},"payload":{"id":1}}`)
	customers := []string{"id", "first_name", "last_name", "email"}
	return []dbzScenario{
		{
			// postgresql.adoc: create (snapshot=true, sequence given), then
			// update and delete, printed without a sequence; then the
			// tombstone the docs say follows a delete.
			//
			// KNOWN BUG (reported to the coordinator, owner schemas): an
			// event without source.sequence gets commit LSN 0, so its
			// ordering key sorts before the create's and merge skips the
			// documented update and delete as stale. The subtest is named
			// after the bug and fails until it is fixed.
			name:    "pgdoc_event_without_sequence_ordered_before_create",
			table:   schemas.TableID{Database: "postgres", Schema: "public", Table: "customers"},
			keyTmpl: pgKey,
			columns: customers,
			steps: []dbzStep{
				dbzWrapped(t, "create", dbzPGCreate, 1, map[string]dbzRow{"1": with(anne, "1")}),
				dbzBare(t, "update", dbzShared+"/pgdoc_update_u_bare.json", dbzPGCreate, 1, map[string]dbzRow{"1": with(anneMarie, "1")}),
				dbzBare(t, "delete", dbzShared+"/pgdoc_delete_d_bare.json", dbzPGCreate, 1, none),
				dbzTombstone(1, none),
			},
		},
		{
			// mysql.adoc: create, update, delete of customer 1004, tombstone.
			name:    "mysqldoc",
			table:   schemas.TableID{Database: "inventory", Table: "customers"},
			keyTmpl: dbzFile(t, dbzDir+"/mysqldoc_customers.key.json"),
			columns: customers,
			steps: []dbzStep{
				dbzWrapped(t, "create", dbzMyCreate, 1004, map[string]dbzRow{"1004": with(anne, "1004")}),
				dbzBare(t, "update", dbzShared+"/mysqldoc_update_u_bare.json", dbzMyCreate, 1004, map[string]dbzRow{"1004": with(anneMarie, "1004")}),
				dbzBare(t, "delete", dbzShared+"/mysqldoc_delete_d_bare.json", dbzMyCreate, 1004, none),
				dbzTombstone(1004, none),
			},
		},
		{
			// Real Debezium PostgreSQL 2.7.1 output, offsets 0-2 of one
			// topic: snapshot read of 1, insert of 2, update of 1.
			name:    "pg271",
			table:   schemas.TableID{Database: "testdb", Schema: "public", Table: "persons"},
			keyTmpl: dbzFile(t, dbzShared+"/pg271_create_c.key.json"),
			columns: []string{"id", "name", "age"},
			steps: []dbzStep{
				dbzWrapped(t, "read", dbzShared+"/pg271_snapshot_r.json", 1, map[string]dbzRow{
					"1": {"id": "1", "name": "John", "age": "30"}}),
				dbzWrapped(t, "create", dbzShared+"/pg271_create_c.json", 2, map[string]dbzRow{
					"1": {"id": "1", "name": "John", "age": "30"}, "2": {"id": "2", "name": "Paul", "age": "25"}}),
				dbzWrapped(t, "update", dbzShared+"/pg271_update_u.json", 1, map[string]dbzRow{
					"1": {"id": "1", "name": "Tom", "age": "30"}, "2": {"id": "2", "name": "Paul", "age": "25"}}),
			},
		},
		{
			// Real Debezium MySQL 2.7.3 snapshot read (time.precision.mode=connect).
			name:    "mysql273",
			table:   schemas.TableID{Database: "demosrc", Table: "products"},
			keyTmpl: []byte(`{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"simply.demosrc.products.Key"},"payload":{"id":8}}`),
			columns: []string{"id", "name", "description", "category", "price", "image", "created_at", "updated_at"},
			steps: []dbzStep{
				dbzWrapped(t, "read", dbzShared+"/mysql273_snapshot_r.json", 8, map[string]dbzRow{"8": {
					"id": "8", "name": "Coffee Maker", "description": "Brew the perfect cup of coffee every time",
					"category": "Home Appliances", "price": "99.99", "image": "https://example.com/images/coffeemaker.jpg",
					"created_at": "2025-02-12T10:10:04Z", "updated_at": "2025-02-12T10:10:04Z"}}),
			},
		},
	}
}

// TestE2EDebeziumSamples runs every scenario in both envelope forms, each
// form produced once by kcat and once by franz-go, into its own lake.
func TestE2EDebeziumSamples(t *testing.T) {
	brokers := testenv.Kafka(t)
	kcat := testenv.Kcat(t)
	for _, sc := range dbzScenarios(t) {
		for _, form := range []string{"schema", "bare"} {
			for _, producer := range []string{"kcat", "franz-go"} {
				t.Run(sc.name+"/"+form+"/"+producer, func(t *testing.T) {
					runDebeziumScenario(t, brokers, kcat, sc, form == "schema", producer)
				})
			}
		}
	}
}

func runDebeziumScenario(t *testing.T, brokers []string, kcat string, sc dbzScenario, withSchema bool, producer string) {
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	topic := testenv.UniqueName("dbz") + "." + sc.table.Database + "." + sc.table.Table
	crashCreateTopics(t, brokers, 1, topic) // librdkafka would wait for auto-creation
	l := newLake(store, brokers, regexp.QuoteMeta(topic))
	loc := merge.DefaultLocation(e2eTablesRoot, sc.table)
	for i, st := range sc.steps {
		value := st.bare
		if withSchema {
			value = st.schema
		}
		key := sc.key(t, st.key, withSchema)
		if producer == "kcat" {
			dbzKcat(t, kcat, brokers, topic, key, value)
		} else {
			dbzFranz(t, brokers, topic, key, value)
		}
		l.ingestAndMerge(t, i)
		what := fmt.Sprintf("step %d (%s)", i, st.what)
		if got := dbzTables(t, store); !slices.Equal(got, []string{loc}) {
			t.Fatalf("%s: SCD1 tables %v, want exactly [%s]", what, got, loc)
		}
		ours := dbzReadOurs(t, blob.Sub(store, loc), sc.columns)
		dbzCompare(t, what+", our reader", ours, st.want)
		// DuckDB (a node process per query) reads the kcat runs' tables
		// after the last step that leaves rows and after the last step.
		lastRows := slices.IndexFunc(sc.steps[i+1:], func(s dbzStep) bool { return len(s.want) > 0 }) < 0 && len(st.want) > 0
		if producer == "kcat" && (lastRows || i == len(sc.steps)-1) {
			duck := dbzReadDuckDB(t, filepath.Join(dir, loc), sc.columns)
			dbzCompare(t, what+", DuckDB", duck, st.want)
		}
		if t.Failed() {
			t.Logf("value of step %d:\n%s", i, value)
			return
		}
	}
}

// dbzKcat produces one record with kcat: a value from a file (one
// message per file), or a tombstone from a "key<TAB>" line on stdin with
// -Z (kcat skips empty files, so a null value cannot come from one).
func dbzKcat(t *testing.T, kcat string, brokers []string, topic string, key, value []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var compact bytes.Buffer
	if err := json.Compact(&compact, key); err != nil {
		t.Fatal(err)
	}
	args := []string{"-P", "-b", strings.Join(brokers, ","), "-t", topic}
	var stdin []byte
	if value == nil {
		args = append(args, "-K", "\t", "-Z")
		stdin = append(compact.Bytes(), "\t\n"...)
	} else {
		f := filepath.Join(t.TempDir(), "value.json")
		if err := os.WriteFile(f, value, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-k", compact.String(), f)
	}
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
}

func dbzFranz(t *testing.T, brokers []string, topic string, key, value []byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// dbzTables lists the Delta tables under the tables root (directories
// holding a _delta_log/), leaving out merge's own side tables.
func dbzTables(t *testing.T, store blob.Store) []string {
	t.Helper()
	seen := map[string]bool{}
	for obj, err := range store.List(context.Background(), e2eTablesRoot+"/") {
		if err != nil {
			t.Fatalf("list tables: %v", err)
		}
		i := strings.Index(obj.Key, "/_delta_log/")
		if i < 0 || strings.Contains(obj.Key[:i], "/_sluice") {
			continue
		}
		seen[obj.Key[:i]] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// dbzText renders a value read by our reader as the documents print it.
func dbzText(v any, typ lakelog.DataType) string {
	switch x := v.(type) {
	case nil:
		return nullText
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case *big.Int:
		if p, ok := typ.(*lakelog.PrimitiveType); ok {
			return decimalText(x, p.Scale)
		}
	}
	return fmt.Sprint(v)
}

func dbzReadOurs(t *testing.T, store blob.Store, columns []string) map[string]dbzRow {
	t.Helper()
	ctx := context.Background()
	out := map[string]dbzRow{}
	snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		return out
	}
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	schema := snap.Schema()
	for _, add := range snap.Files() {
		rows, err := dv.ReadFile(ctx, store, nil, add, schema)
		if err != nil {
			t.Fatal(err)
		}
		for {
			vals, ok := rows.Next()
			if !ok {
				break
			}
			r := dbzRow{}
			for _, c := range columns {
				fi := slices.IndexFunc(schema.Fields, func(f *lakelog.StructField) bool { return f.Name == c })
				if fi < 0 {
					r[c] = "<column missing>"
					continue
				}
				r[c] = dbzText(vals[fi], schema.Fields[fi].Type)
			}
			if _, dup := out[r["id"]]; dup {
				t.Errorf("key %s appears twice (our reader)", r["id"])
			}
			out[r["id"]] = r
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// dbzDuckTime turns DuckDB's text of a timestamp with zone into RFC 3339.
var dbzDuckTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00$`)

func dbzReadDuckDB(t *testing.T, dir string, columns []string) map[string]dbzRow {
	t.Helper()
	out := map[string]dbzRow{}
	files := duckLiveFiles(t, dir)
	if len(files) == 0 {
		return out
	}
	var lits, exprs []string
	for _, f := range files {
		lits = append(lits, sqlString(f))
	}
	for _, c := range columns {
		exprs = append(exprs, fmt.Sprintf(`CAST("%s" AS VARCHAR) AS "%s"`, c, c))
	}
	q := fmt.Sprintf("SET TimeZone = 'UTC'; SELECT %s FROM read_parquet([%s], union_by_name=true)", strings.Join(exprs, ", "), strings.Join(lits, ", "))
	for _, row := range duckDB(t, q) {
		r := dbzRow{}
		for _, c := range columns {
			v := row[c]
			if v == nil {
				r[c] = nullText
				continue
			}
			s := fmt.Sprint(v)
			if dbzDuckTime.MatchString(s) {
				if ts, err := time.Parse("2006-01-02 15:04:05.999999999-07", s); err == nil {
					s = ts.UTC().Format(time.RFC3339Nano)
				}
			}
			r[c] = s
		}
		if _, dup := out[r["id"]]; dup {
			t.Errorf("key %s appears twice (DuckDB)", r["id"])
		}
		out[r["id"]] = r
	}
	return out
}

func dbzCompare(t *testing.T, what string, got, want map[string]dbzRow) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("key %s missing, want %v", k, w))
			continue
		}
		for c, wv := range w {
			if g[c] != wv {
				diffs = append(diffs, fmt.Sprintf("key %s column %s = %q, want %q", k, c, g[c], wv))
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("key %s should not exist, has %v", k, g))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s: SCD1 table differs from the documented source state:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}
