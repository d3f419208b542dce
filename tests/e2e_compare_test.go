package tests

// The end-to-end check: a source table and its SCD1 table hold the same
// rows, compared by primary key over every column, each value rendered in
// one canonical text form per workload.Kind:
//
//	int       decimal integer          decimal  exact text with the scale
//	float32   shortest float32 text    float64  shortest float64 text
//	bool      true/false               text     as is
//	bytes     lowercase hex            date     YYYY-MM-DD
//	time      µs past midnight         json     re-encoded with sorted keys
//	timestamp, timestamptz: YYYY-MM-DD HH:MM:SS.ffffff (timestamptz in UTC)
//
// The SCD1 table is read twice: with lakelog + lakelog/dv (ours) and with
// DuckDB (not ours), which also replays the Delta log itself.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/tests/testenv"
	"github.com/sluicehq/sluice/tests/workload"
)

const nullText = "<NULL>"

// rowSet maps a canonical key ("k1|k2") to the canonical column values of
// the row, in the table's column order.
type rowSet map[string][]string

func keyOf(t workload.Table, vals []string) string {
	var parts []string
	for i, c := range t.Columns {
		if c.Key {
			parts = append(parts, vals[i])
		}
	}
	return strings.Join(parts, "|")
}

// canonText normalises a value already rendered as text (source queries,
// DuckDB casts) for kinds whose text forms differ between renderers.
func canonText(k workload.Kind, s string) (string, error) {
	switch k {
	case workload.KindFloat32:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return "", fmt.Errorf("float32 %q: %w", s, err)
		}
		return strconv.FormatFloat(float64(float32(f)), 'g', -1, 32), nil
	case workload.KindFloat64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "", fmt.Errorf("float64 %q: %w", s, err)
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case workload.KindJSON:
		return canonJSON(s)
	case workload.KindBytes:
		return strings.ToLower(s), nil
	}
	return s, nil
}

func canonJSON(s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("json %q: %w", s, err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

const tsLayout = "2006-01-02 15:04:05.000000"

// canonLake renders a value as datafile.Rows returns it, for a column of
// Delta type typ.
func canonLake(k workload.Kind, typ lakelog.DataType, v any) (string, error) {
	if v == nil {
		return nullText, nil
	}
	p, _ := typ.(*lakelog.PrimitiveType)
	switch x := v.(type) {
	case string:
		return canonText(k, x)
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case float64:
		if k == workload.KindFloat32 {
			return strconv.FormatFloat(float64(float32(x)), 'g', -1, 32), nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []byte:
		return hex.EncodeToString(x), nil
	case time.Time:
		if p != nil && p.Name == "date" {
			return x.UTC().Format("2006-01-02"), nil
		}
		return x.UTC().Format(tsLayout), nil
	case *big.Int:
		if p == nil || p.Name != "decimal" {
			return "", fmt.Errorf("*big.Int for type %s", typ.TypeName())
		}
		return decimalText(x, p.Scale), nil
	}
	return "", fmt.Errorf("unexpected Go type %T for %s", v, typ.TypeName())
}

// decimalText writes unscaled×10^-scale with exactly scale fraction digits.
func decimalText(unscaled *big.Int, scale int) string {
	s := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if unscaled.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// wantDeltaTypes are the Delta types Debezium's default mapping gives each
// kind (decimal kinds are checked against the declared precision apart).
var wantDeltaTypes = map[workload.Kind][]string{
	workload.KindInt:     {"byte", "short", "integer", "long"},
	workload.KindFloat32: {"float"},
	workload.KindFloat64: {"double"},
	workload.KindBool:    {"boolean"},
	workload.KindText:    {"string"},
	workload.KindBytes:   {"binary"},
	workload.KindDate:    {"date"},
	workload.KindTime:    {"long"},
	workload.KindTs:      {"timestamp_ntz"},
	workload.KindTsTz:    {"timestamp"},
	workload.KindJSON:    {"string"},
	workload.KindUUID:    {"string"},
}

// checkSchema compares the SCD1 schema's source columns with the kinds.
func checkSchema(t workload.Table, schema *lakelog.StructType) []string {
	var errs []string
	for _, c := range t.Columns {
		f := schema.Field(c.Name)
		if f == nil {
			errs = append(errs, fmt.Sprintf("column %s missing from SCD1 schema %s", c.Name, schema))
			continue
		}
		got := f.Type.TypeName()
		if c.Kind == workload.KindDecimal {
			want := "string" // numeric without precision: exact text
			if i := strings.Index(c.SQLType, "("); i >= 0 {
				want = "decimal" + c.SQLType[i:]
			}
			if got != want {
				errs = append(errs, fmt.Sprintf("column %s (%s): Delta type %s, want %s", c.Name, c.SQLType, got, want))
			}
			continue
		}
		if c.Kind == workload.KindInt && c.SQLType == "bigint" && got != "long" {
			// Also after a widening to bigint: the SCD1 column must widen.
			errs = append(errs, fmt.Sprintf("column %s (%s): Delta type %s, want long", c.Name, c.SQLType, got))
			continue
		}
		if !slices.Contains(wantDeltaTypes[c.Kind], got) {
			errs = append(errs, fmt.Sprintf("column %s (%s): Delta type %s, want one of %v", c.Name, c.SQLType, got, wantDeltaTypes[c.Kind]))
		}
	}
	return errs
}

// readLakeOurs reads an SCD1 table with lakelog and lakelog/dv (deletion
// vectors applied).
func readLakeOurs(ctx context.Context, t *testing.T, store blob.Store, wt workload.Table) (rowSet, *lakelog.StructType) {
	t.Helper()
	snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		return rowSet{}, nil // never had a change; compared as empty
	}
	if err != nil {
		t.Fatalf("table %s: snapshot: %v", wt.Name, err)
	}
	schema := snap.Schema()
	out := rowSet{}
	for _, add := range snap.Files() {
		rows, err := dv.ReadFile(ctx, store, nil, add, schema)
		if err != nil {
			t.Fatalf("table %s: %v", wt.Name, err)
		}
		for {
			row, ok := rows.Next()
			if !ok {
				break
			}
			vals := make([]string, len(wt.Columns))
			for i, c := range wt.Columns {
				fi := slices.IndexFunc(schema.Fields, func(f *lakelog.StructField) bool { return f.Name == c.Name })
				if fi < 0 {
					vals[i] = "<column missing>"
					continue
				}
				s, err := canonLake(c.Kind, schema.Fields[fi].Type, row[fi])
				if err != nil {
					t.Fatalf("table %s column %s: %v", wt.Name, c.Name, err)
				}
				vals[i] = s
			}
			k := keyOf(wt, vals)
			if _, dup := out[k]; dup {
				t.Errorf("table %s: key %s appears twice in the SCD1 table (our reader)", wt.Name, k)
			}
			out[k] = vals
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("table %s: read %s: %v", wt.Name, add.Path, err)
		}
	}
	return out, schema
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// duckLiveFiles replays the Delta log of the table in dir with DuckDB:
// every add (commit JSON or checkpoint Parquet) whose path no remove names.
// Paths are unique per write (no file is added twice), so the set
// difference is the replay.
func duckLiveFiles(t *testing.T, dir string) []string {
	t.Helper()
	logDir := filepath.Join(dir, "_delta_log")
	var sources []string
	if m, _ := filepath.Glob(filepath.Join(logDir, "*.json")); len(m) > 0 {
		sources = append(sources, fmt.Sprintf(
			`SELECT add.path AS a, remove.path AS r FROM read_ndjson(%s, columns={'add': 'STRUCT(path VARCHAR)', 'remove': 'STRUCT(path VARCHAR)'})`,
			sqlString(filepath.Join(logDir, "*.json"))))
	}
	if m, _ := filepath.Glob(filepath.Join(logDir, "*.checkpoint*.parquet")); len(m) > 0 {
		sources = append(sources, fmt.Sprintf(`SELECT add.path AS a, remove.path AS r FROM read_parquet(%s, union_by_name=true)`,
			sqlString(filepath.Join(logDir, "*.checkpoint*.parquet"))))
	}
	if len(sources) == 0 {
		t.Fatalf("%s: no Delta log", dir)
	}
	q := fmt.Sprintf(`WITH log AS (%s)
SELECT DISTINCT a FROM log WHERE a IS NOT NULL AND a NOT IN (SELECT r FROM log WHERE r IS NOT NULL) ORDER BY a`,
		strings.Join(sources, " UNION ALL "))
	var files []string
	for _, row := range duckDB(t, q) {
		p, err := url.PathUnescape(fmt.Sprint(row["a"]))
		if err != nil {
			t.Fatalf("add path %v: %v", row["a"], err)
		}
		files = append(files, filepath.Join(dir, filepath.FromSlash(p)))
	}
	return files
}

// duckDB is testenv.DuckDB with the SQL written to the log on -v.
func duckDB(t *testing.T, q string) []map[string]any {
	t.Helper()
	if testing.Verbose() && os.Getenv("SLUICE_E2E_SHOW_SQL") != "" {
		t.Logf("duckdb: %s", q)
	}
	return testenv.DuckDB(t, q)
}

// duckExpr renders column c of a kind as text in DuckDB SQL (float kinds
// as the JSON number, timestamps as epoch µs, formatted in Go).
func duckExpr(c workload.Column) string {
	q := `"` + c.Name + `"`
	switch c.Kind {
	case workload.KindBytes:
		return "lower(hex(" + q + "))"
	case workload.KindTs, workload.KindTsTz:
		return "CAST(epoch_us(" + q + ") AS VARCHAR)"
	case workload.KindFloat32, workload.KindFloat64:
		return "CAST(" + q + " AS DOUBLE)"
	}
	return "CAST(" + q + " AS VARCHAR)"
}

// readLakeDuckDB reads the SCD1 table in the local directory dir with
// DuckDB.
func readLakeDuckDB(t *testing.T, dir string, wt workload.Table) rowSet {
	t.Helper()
	files := duckLiveFiles(t, dir)
	out := rowSet{}
	if len(files) == 0 {
		return out
	}
	var lits, exprs []string
	for _, f := range files {
		lits = append(lits, sqlString(f))
	}
	for i, c := range wt.Columns {
		exprs = append(exprs, fmt.Sprintf("%s AS c%d", duckExpr(c), i))
	}
	q := fmt.Sprintf("SELECT %s FROM read_parquet([%s], union_by_name=true)", strings.Join(exprs, ", "), strings.Join(lits, ", "))
	for _, row := range duckDB(t, q) {
		vals := make([]string, len(wt.Columns))
		for i, c := range wt.Columns {
			v := row[fmt.Sprintf("c%d", i)]
			if v == nil {
				vals[i] = nullText
				continue
			}
			s := fmt.Sprint(v)
			if c.Kind == workload.KindTs || c.Kind == workload.KindTsTz {
				us, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					t.Fatalf("table %s column %s: DuckDB epoch_us %q: %v", wt.Name, c.Name, s, err)
				}
				vals[i] = time.UnixMicro(us).UTC().Format(tsLayout)
				continue
			}
			cs, err := canonText(c.Kind, s)
			if err != nil {
				t.Fatalf("table %s column %s: DuckDB value: %v", wt.Name, c.Name, err)
			}
			vals[i] = cs
		}
		k := keyOf(wt, vals)
		if _, dup := out[k]; dup {
			t.Errorf("table %s: key %s appears twice in the SCD1 table (DuckDB)", wt.Name, k)
		}
		out[k] = vals
	}
	return out
}

// diffRows reports the differences of got against want (the source), at
// most limit keys, each with both values of every differing column.
func diffRows(wt workload.Table, want, got rowSet, limit int) []string {
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		w, inW := want[k]
		g, inG := got[k]
		var msg string
		switch {
		case !inG:
			msg = fmt.Sprintf("key %s: in source, missing from lake", k)
		case !inW:
			msg = fmt.Sprintf("key %s: in lake, not in source: %s", k, short(strings.Join(g, " | ")))
		default:
			var cols []string
			for i, c := range wt.Columns {
				if w[i] != g[i] {
					cols = append(cols, fmt.Sprintf("%s: source %s, lake %s", c.Name, short(w[i]), short(g[i])))
				}
			}
			if len(cols) == 0 {
				continue
			}
			msg = fmt.Sprintf("key %s: %s", k, strings.Join(cols, "; "))
		}
		out = append(out, msg)
		if len(out) >= limit {
			out = append(out, "…")
			break
		}
	}
	return out
}

func short(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%s…(%d bytes, %s…%s)", s[:60], len(s), s[:8], s[len(s)-8:])
	}
	return s
}
