package datafile

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/tests/testenv"
)

// probe is one primitive column to compare: a DuckDB expression and the
// path to the value in our row.
type probe struct {
	expr string
	path []int
	typ  *lakelog.PrimitiveType
}

func probes(fields []*lakelog.StructField, prefix string, path []int) []probe {
	var out []probe
	for i, f := range fields {
		expr := prefix + `"` + f.Name + `"`
		p := append(append([]int(nil), path...), i)
		switch t := f.Type.(type) {
		case *lakelog.PrimitiveType:
			out = append(out, probe{expr: expr, path: p, typ: t})
		case *lakelog.StructType:
			out = append(out, probes(t.Fields, expr+".", p)...)
		case *lakelog.ArrayType:
			if et, ok := t.ElementType.(*lakelog.PrimitiveType); ok && isIntType(et) {
				out = append(out, probe{expr: "CAST(" + expr + " AS VARCHAR)", path: p, typ: nil})
			}
		}
	}
	return out
}

func isIntType(t *lakelog.PrimitiveType) bool {
	switch t.Name {
	case "long", "integer", "short", "byte":
		return true
	}
	return false
}

func (p probe) sql() string {
	if p.typ == nil {
		return p.expr
	}
	switch p.typ.Name {
	case "date", "timestamp", "timestamp_ntz":
		return "CAST(epoch_us(" + p.expr + ") AS VARCHAR)"
	case "binary":
		return "hex(" + p.expr + ")"
	case "float", "double":
		return "CAST(" + p.expr + " AS DOUBLE)"
	}
	return "CAST(" + p.expr + " AS VARCHAR)"
}

func (p probe) ours(row []any) any {
	var v any = row
	for _, i := range p.path {
		s, ok := v.([]any)
		if !ok {
			return nil // null struct
		}
		v = s[i]
	}
	return v
}

// same compares our value with DuckDB's rendering of it.
func (p probe) same(ours, duck any) bool {
	if ours == nil || duck == nil {
		return ours == nil && duck == nil
	}
	ds := fmt.Sprint(duck)
	if p.typ == nil { // int array as DuckDB text
		var parts []string
		for _, e := range ours.([]any) {
			if e == nil {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, fmt.Sprint(e))
			}
		}
		return "["+strings.Join(parts, ", ")+"]" == ds
	}
	switch p.typ.Name {
	case "string":
		return ours.(string) == ds
	case "boolean":
		return strconv.FormatBool(ours.(bool)) == ds
	case "binary":
		return strings.EqualFold(hex.EncodeToString(ours.([]byte)), ds)
	case "date", "timestamp", "timestamp_ntz":
		return strconv.FormatInt(ours.(time.Time).UnixMicro(), 10) == ds
	case "float", "double":
		f, err := strconv.ParseFloat(ds, 64)
		var o float64
		switch x := ours.(type) {
		case float32:
			o = float64(x)
		case float64:
			o = x
		}
		return err == nil && f == o
	case "decimal":
		want, ok := new(big.Rat).SetString(ds)
		got := new(big.Rat).SetFrac(ours.(*big.Int), powersOfTen[p.typ.Scale])
		return ok && want.Cmp(got) == 0
	}
	return fmt.Sprint(ours) == ds // integers
}

// compareWithDuckDB reads file by schema with ReadBytes and checks every
// primitive value against DuckDB's read_parquet of the same file.
func compareWithDuckDB(t *testing.T, file string, schema *lakelog.StructType) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadBytes(filepath.Base(file), data, schema)
	if err != nil {
		t.Fatal(err)
	}
	var ours [][]any
	for r, ok := rows.Next(); ok; r, ok = rows.Next() {
		ours = append(ours, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ps := probes(schema.Fields, "", nil)
	var cols []string
	for i, p := range ps {
		cols = append(cols, fmt.Sprintf("%s AS c%d", p.sql(), i))
	}
	duck := testenv.DuckDB(t, fmt.Sprintf("SELECT %s FROM read_parquet('%s')", strings.Join(cols, ", "), file))
	if len(duck) != len(ours) {
		t.Fatalf("%s: we read %d rows, DuckDB %d", file, len(ours), len(duck))
	}
	for r := range ours {
		for i, p := range ps {
			o, d := p.ours(ours[r]), duck[r][fmt.Sprintf("c%d", i)]
			if !p.same(o, d) {
				t.Errorf("%s row %d %s: ours %#v, DuckDB %v", filepath.Base(file), r, p.expr, o, d)
			}
		}
	}
	return len(ours)
}

func TestDuckDBReadsOurFile(t *testing.T) {
	schema := mustSchema(t, allTypesSchema)
	w := writeAll(t, schema, Options{}, allTypesRows())
	data, stats, err := w.FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f.parquet")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := compareWithDuckDB(t, file, schema); n != 3 {
		t.Errorf("compared %d rows, want 3", n)
	}

	// Column order and the Delta type mapping, as DuckDB sees the footer.
	got := testenv.DuckDB(t, fmt.Sprintf(`SELECT name, type, repetition_type, COALESCE(converted_type, '') || ' ' || COALESCE(logical_type, '') AS lt
		FROM parquet_schema('%s')`, file))
	want := []string{
		"spark_schema||| ",
		"s|BYTE_ARRAY|OPTIONAL|UTF8 StringType()",
		"l|INT64|OPTIONAL| ",
		"i|INT32|OPTIONAL| ",
		"sh|INT32|OPTIONAL|INT_16 IntType(bitWidth=\x10, isSigned=1)",
		"by|INT32|OPTIONAL|INT_8 IntType(bitWidth=\b, isSigned=1)",
		"f|FLOAT|OPTIONAL| ",
		"d|DOUBLE|OPTIONAL| ",
		"b|BOOLEAN|OPTIONAL| ",
		"bin|BYTE_ARRAY|OPTIONAL| ",
		"dt|INT32|OPTIONAL|DATE DateType()",
		"ts|INT64|OPTIONAL|TIMESTAMP_MICROS TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))",
		"ntz|INT64|OPTIONAL|TIMESTAMP_MICROS TimestampType(isAdjustedToUTC=0, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))",
		"d9|INT32|OPTIONAL|DECIMAL DecimalType(scale=2, precision=9)",
		"d18|INT64|OPTIONAL|DECIMAL DecimalType(scale=4, precision=18)",
		"d38|FIXED_LEN_BYTE_ARRAY|OPTIONAL|DECIMAL DecimalType(scale=10, precision=38)",
		"arr||OPTIONAL|LIST ListType()",
		"list||REPEATED| ",
		"element|INT32|OPTIONAL| ",
		"st||OPTIONAL| ",
		"z|BYTE_ARRAY|OPTIONAL|UTF8 StringType()",
		"a|INT64|REQUIRED| ",
		"req|INT64|REQUIRED| ",
	}
	if len(got) != len(want) {
		t.Fatalf("parquet_schema has %d rows, want %d: %v", len(got), len(want), got)
	}
	for i, r := range got {
		line := fmt.Sprintf("%v|%v|%v|%v", r["name"], r["type"], r["repetition_type"], r["lt"])
		if strings.ReplaceAll(line, "<nil>", "") != want[i] {
			t.Errorf("schema element %d = %s, want %s", i, line, want[i])
		}
	}

	// Row group min/max (full values) against our stats for columns whose
	// bounds are not truncated: they must agree exactly.
	var st lakelog.Stats
	if err := json.Unmarshal([]byte(stats), &st); err != nil {
		t.Fatal(err)
	}
	meta := testenv.DuckDB(t, fmt.Sprintf(`SELECT path_in_schema AS p, stats_min_value AS mn, stats_max_value AS mx, stats_null_count AS nc
		FROM parquet_metadata('%s') WHERE path_in_schema IN ('l','i','sh','by','d','d9','req')`, file))
	for _, r := range meta {
		name := fmt.Sprint(r["p"])
		for _, c := range []struct {
			m   map[string]any
			key string
		}{{st.MinValues, "mn"}, {st.MaxValues, "mx"}} {
			ours := fmt.Sprint(c.m[name])
			if name == "d9" { // DuckDB shows the unscaled or scaled value depending on version; compare as numbers
				a, _ := new(big.Rat).SetString(ours)
				b, ok := new(big.Rat).SetString(fmt.Sprint(r[c.key]))
				if !ok || a.Cmp(b) != 0 && new(big.Rat).Mul(a, big.NewRat(100, 1)).Cmp(b) != 0 {
					t.Errorf("%s %s: ours %s, DuckDB %v", name, c.key, ours, r[c.key])
				}
				continue
			}
			if f, err := strconv.ParseFloat(ours, 64); err == nil {
				if g, err := strconv.ParseFloat(fmt.Sprint(r[c.key]), 64); err != nil || f != g {
					t.Errorf("%s %s: ours %s, DuckDB %v", name, c.key, ours, r[c.key])
				}
			}
		}
		if fmt.Sprint(st.NullCount[name]) != fmt.Sprint(r["nc"]) {
			t.Errorf("%s nullCount: ours %v, DuckDB %v", name, st.NullCount[name], r["nc"])
		}
	}
	if len(meta) != 7 {
		t.Errorf("parquet_metadata matched %d columns, want 7", len(meta))
	}
}

// tableFiles returns the latest schema (without partition columns) of a
// Delta fixture and the data files its log adds.
func tableFiles(t *testing.T, dir string) (*lakelog.StructType, []string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "_delta_log", "*.json"))
	if len(logs) == 0 {
		t.Fatalf("fixture %s not present (../shared/testdata/delta must sit beside the repository)", dir)
	}
	var schemaString string
	var partCols []string
	var files []string
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var a struct {
				MetaData *struct {
					SchemaString     string   `json:"schemaString"`
					PartitionColumns []string `json:"partitionColumns"`
				} `json:"metaData"`
				Add *struct {
					Path string `json:"path"`
				} `json:"add"`
			}
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			if a.MetaData != nil {
				schemaString, partCols = a.MetaData.SchemaString, a.MetaData.PartitionColumns
			}
			if a.Add != nil {
				p, err := url.PathUnescape(a.Add.Path)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, filepath.Join(dir, p))
			}
		}
		f.Close()
	}
	schema := mustSchema(t, schemaString)
	var keep []*lakelog.StructField
	for _, f := range schema.Fields {
		part := false
		for _, p := range partCols {
			part = part || p == f.Name
		}
		if !part {
			keep = append(keep, f)
		}
	}
	schema.Fields = keep
	return readable(schema), files
}

// readable drops the columns ReadFile does not support yet (maps, arrays
// of non-primitives), which also checks that reading a subset works.
func readable(s *lakelog.StructType) *lakelog.StructType {
	out := &lakelog.StructType{}
	for _, f := range s.Fields {
		switch t := f.Type.(type) {
		case *lakelog.PrimitiveType:
			out.Fields = append(out.Fields, f)
		case *lakelog.StructType:
			if r := readable(t); len(r.Fields) > 0 {
				g := *f
				g.Type = r
				out.Fields = append(out.Fields, &g)
			}
		case *lakelog.ArrayType:
			if _, ok := t.ElementType.(*lakelog.PrimitiveType); ok {
				out.Fields = append(out.Fields, f)
			}
		}
	}
	return out
}

func TestReadFixturesLikeDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DuckDB once per fixture file")
	}
	// The shared fixtures sit beside the repository: <repo>/../shared.
	root := filepath.Join("..", "..", "..", "shared", "testdata", "delta") + string(filepath.Separator)
	for _, dir := range []string{
		"spark-golden/parquet-all-types",
		"spark-golden/parquet-all-types-legacy-format",
		"spark-golden/decimal-various-scale-precision",
		"spark-golden/parquet-decimal-type",
		"spark-golden/kernel-timestamp-INT96",
		"spark-golden/kernel-timestamp-TIMESTAMP_MILLIS",
		"spark-golden/kernel-timestamp-TIMESTAMP_MICROS",
		"spark-golden/data-reader-array-primitives",
		"spark-golden/data-reader-timestamp_ntz",
		"delta-kernel-rs/type-widening",
		"delta-kernel-rs/basic-decimal-table",
	} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			schema, files := tableFiles(t, root+dir)
			total := 0
			for _, f := range files {
				if _, err := os.Stat(f); err != nil {
					continue // removed by a later commit and vacuumed
				}
				total += compareWithDuckDB(t, f, schema)
			}
			if total == 0 {
				t.Errorf("no rows compared")
			}
		})
	}
}
