package datafile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
)

// mapStore is a minimal in-memory blob.Store for these tests.
type mapStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMapStore() *mapStore { return &mapStore{m: map[string][]byte{}} }

func (s *mapStore) Get(_ context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, blob.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *mapStore) Put(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = bytes.Clone(data)
	return nil
}

func (s *mapStore) PutIfAbsent(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return fmt.Errorf("put %s: %w", key, blob.ErrExist)
	}
	s.m[key] = bytes.Clone(data)
	return nil
}

func (s *mapStore) List(_ context.Context, prefix string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		s.mu.Lock()
		var keys []string
		for k := range s.m {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		s.mu.Unlock()
		sort.Strings(keys)
		for _, k := range keys {
			if !yield(blob.Object{Key: k, Size: int64(len(s.m[k]))}, nil) {
				return
			}
		}
	}
}

func (s *mapStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func mustSchema(t testing.TB, js string) *lakelog.StructType {
	t.Helper()
	s, err := lakelog.ParseSchema(js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allTypesSchema covers every type the writer supports.
const allTypesSchema = `{"type":"struct","fields":[
 {"name":"s","type":"string","nullable":true,"metadata":{}},
 {"name":"l","type":"long","nullable":true,"metadata":{}},
 {"name":"i","type":"integer","nullable":true,"metadata":{}},
 {"name":"sh","type":"short","nullable":true,"metadata":{}},
 {"name":"by","type":"byte","nullable":true,"metadata":{}},
 {"name":"f","type":"float","nullable":true,"metadata":{}},
 {"name":"d","type":"double","nullable":true,"metadata":{}},
 {"name":"b","type":"boolean","nullable":true,"metadata":{}},
 {"name":"bin","type":"binary","nullable":true,"metadata":{}},
 {"name":"dt","type":"date","nullable":true,"metadata":{}},
 {"name":"ts","type":"timestamp","nullable":true,"metadata":{}},
 {"name":"ntz","type":"timestamp_ntz","nullable":true,"metadata":{}},
 {"name":"d9","type":"decimal(9,2)","nullable":true,"metadata":{}},
 {"name":"d18","type":"decimal(18,4)","nullable":true,"metadata":{}},
 {"name":"d38","type":"decimal(38,10)","nullable":true,"metadata":{}},
 {"name":"arr","type":{"type":"array","elementType":"integer","containsNull":true},"nullable":true,"metadata":{}},
 {"name":"st","type":{"type":"struct","fields":[
   {"name":"z","type":"string","nullable":true,"metadata":{}},
   {"name":"a","type":"long","nullable":false,"metadata":{}}]},"nullable":true,"metadata":{}},
 {"name":"req","type":"long","nullable":false,"metadata":{}}
]}`

func bigInt(s string) *big.Int {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return x
}

func allTypesRows() [][]any {
	utc := time.UTC
	return [][]any{
		{"héllo wörld 日本語 🎉", int64(-9223372036854775808), int32(-2147483648), int16(-32768), int8(-128),
			float32(-1.5), -2.25, true, []byte{0, 1, 255},
			time.Date(1900, 1, 1, 0, 0, 0, 0, utc), time.Date(1969, 12, 31, 23, 59, 59, 999999000, utc),
			time.Date(1950, 6, 1, 12, 0, 0, 1000, utc),
			big.NewInt(-99999999), big.NewInt(-999999999999999999), bigInt("-99999999999999999999999999999999999999"),
			[]any{int32(1), nil, int32(3)}, []any{"x", int64(7)}, int64(1)},
		{"", int64(9223372036854775807), int32(2147483647), int16(32767), int8(127),
			float32(3.25), 1e300, false, []byte{},
			time.Date(2999, 12, 31, 0, 0, 0, 0, utc), time.Date(2024, 2, 29, 1, 2, 3, 456789000, utc),
			time.Date(2024, 2, 29, 1, 2, 3, 456789000, utc),
			big.NewInt(99999999), big.NewInt(999999999999999999), bigInt("99999999999999999999999999999999999999"),
			[]any{}, map[string]any{"a": int64(-1)}, int64(2)},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, int64(3)},
	}
}

// wantRead is what ReadFile must return for allTypesRows: the same values
// with the struct as []any in field order.
func wantRead() [][]any {
	rows := allTypesRows()
	rows[1][16] = []any{nil, int64(-1)}
	return rows
}

func writeAll(t testing.TB, schema *lakelog.StructType, opts Options, rows [][]any) *Writer {
	t.Helper()
	w, err := NewWriter(schema, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	return w
}

func equalValue(a, b any) bool {
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

func TestRoundTrip(t *testing.T) {
	schema := mustSchema(t, allTypesSchema)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	// Two-row groups exercise reading across row groups.
	w := writeAll(t, schema, Options{RowGroupRows: 2, Now: func() time.Time { return now }}, allTypesRows())
	if got := w.Rows(); got != 3 {
		t.Errorf("Rows() = %d, want 3", got)
	}
	store := newMapStore()
	add, err := w.Finish(context.Background(), store, "dir")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^dir/part-00000-[0-9a-f-]{36}-c000\.zstd\.parquet$`).MatchString(add.Path) {
		t.Errorf("path = %q", add.Path)
	}
	if got := int64(len(store.m[add.Path])); got != add.Size || got == 0 {
		t.Errorf("size = %d, stored %d", add.Size, got)
	}
	if add.ModificationTime != now.UnixMilli() || !add.DataChange {
		t.Errorf("add = %+v", add)
	}
	rows, err := ReadFile(context.Background(), store, add, schema)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != 3 {
		t.Errorf("Len() = %d, want 3", rows.Len())
	}
	want := wantRead()
	n := 0
	for row, ok := rows.Next(); ok; row, ok = rows.Next() {
		for c := range row {
			if !equalValue(row[c], want[n][c]) {
				t.Errorf("row %d %s = %#v, want %#v", n, schema.Fields[c].Name, row[c], want[n][c])
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("read %d rows, want 3", n)
	}
	if _, err := w.Finish(context.Background(), store, ""); err == nil {
		t.Error("second Finish succeeded")
	}
}

func TestReadEvolvedSchema(t *testing.T) {
	old := mustSchema(t, `{"type":"struct","fields":[
	 {"name":"a","type":"integer","nullable":true,"metadata":{}},
	 {"name":"f","type":"float","nullable":true,"metadata":{}},
	 {"name":"d","type":"decimal(5,2)","nullable":true,"metadata":{}},
	 {"name":"st","type":{"type":"struct","fields":[{"name":"x","type":"byte","nullable":true,"metadata":{}}]},"nullable":true,"metadata":{}}]}`)
	cur := mustSchema(t, `{"type":"struct","fields":[
	 {"name":"a","type":"long","nullable":true,"metadata":{}},
	 {"name":"f","type":"double","nullable":true,"metadata":{}},
	 {"name":"d","type":"decimal(20,4)","nullable":true,"metadata":{}},
	 {"name":"st","type":{"type":"struct","fields":[{"name":"x","type":"short","nullable":true,"metadata":{}},{"name":"y","type":"string","nullable":true,"metadata":{}}]},"nullable":true,"metadata":{}},
	 {"name":"added","type":"string","nullable":true,"metadata":{}}]}`)
	w := writeAll(t, old, Options{}, [][]any{
		{int32(-7), float32(0.5), big.NewInt(-12345), []any{int8(-3)}},
		{nil, nil, nil, nil},
	})
	data, _, err := w.FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadBytes("f.parquet", data, cur)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{int64(-7), 0.5, big.NewInt(-1234500), []any{int16(-3), nil}, nil},
		{nil, nil, nil, nil, nil},
	}
	for i := 0; ; i++ {
		row, ok := rows.Next()
		if !ok {
			if i != len(want) {
				t.Errorf("read %d rows, want %d (err %v)", i, len(want), rows.Err())
			}
			break
		}
		if !equalValue(row, want[i]) {
			t.Errorf("row %d = %#v, want %#v", i, row, want[i])
		}
	}
}

func TestReadNarrowingFails(t *testing.T) {
	long := mustSchema(t, `{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}},{"name":"d","type":"decimal(10,4)","nullable":true,"metadata":{}}]}`)
	w := writeAll(t, long, Options{}, [][]any{{int64(1), big.NewInt(1)}})
	data, _, err := w.FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, schema := range []string{
		`{"type":"struct","fields":[{"name":"a","type":"integer","nullable":true,"metadata":{}}]}`,
		`{"type":"struct","fields":[{"name":"a","type":"string","nullable":true,"metadata":{}}]}`,
		`{"type":"struct","fields":[{"name":"d","type":"decimal(10,2)","nullable":true,"metadata":{}}]}`,
		`{"type":"struct","fields":[{"name":"d","type":"decimal(12,7)","nullable":true,"metadata":{}}]}`,
	} {
		s := mustSchema(t, schema)
		_, err := ReadBytes("f.parquet", data, s)
		if err == nil || !strings.Contains(err.Error(), "column "+s.Fields[0].Name) {
			t.Errorf("read as %s: err = %v, want an error naming the column", s.Fields[0].Type.TypeName(), err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	schema := mustSchema(t, allTypesSchema)
	w, err := NewWriter(schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := allTypesRows()[0]
	for _, tc := range []struct {
		col  int
		v    any
		want string
	}{
		{1, "nope", "column l:"},
		{2, int64(1), "column i:"},
		{3, 40000, "column sh:"},
		{12, big.NewInt(1000000000), "column d9:"},
		{13, 1.5, "column d18:"},
		{15, []any{"x"}, "column arr.element:"},
		{16, []any{"x", nil}, "column st.a: null"},
		{17, nil, "column req: null"},
		{9, "2020-01-01", "column dt:"},
	} {
		row := append([]any(nil), good...)
		row[tc.col] = tc.v
		err := w.Write(row)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("value %#v in column %d: err = %v, want containing %q", tc.v, tc.col, err, tc.want)
		}
	}
	if err := w.Write(good[:3]); err == nil {
		t.Error("short row accepted")
	}
	if w.Rows() != 0 {
		t.Errorf("rejected rows counted: %d", w.Rows())
	}
	// Rejected rows leave no trace in the stats.
	if err := w.Write(allTypesRows()[2]); err != nil {
		t.Fatal(err)
	}
	_, stats, err := w.FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"numRecords":1,"minValues":{"req":3},"maxValues":{"req":3},"nullCount":{"s":1,"l":1,"i":1,"sh":1,"by":1,"f":1,"d":1,"b":1,"bin":1,"dt":1,"ts":1,"ntz":1,"d9":1,"d18":1,"d38":1,"arr":1,"st":{"z":1,"a":1},"req":0}}`
	if stats != want {
		t.Errorf("stats after rejected rows:\n got %s\nwant %s", stats, want)
	}
	if _, err := NewWriter(mustSchema(t, `{"type":"struct","fields":[{"name":"m","type":{"type":"map","keyType":"string","valueType":"string","valueContainsNull":true},"nullable":true,"metadata":{}}]}`), Options{}); err == nil || !strings.Contains(err.Error(), "column m") {
		t.Errorf("map column: err = %v", err)
	}
	if _, err := NewWriter(schema, Options{Compression: "lzo"}); err == nil {
		t.Error("unknown compression accepted")
	}
}

func TestFinishExisting(t *testing.T) {
	schema := mustSchema(t, `{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}}]}`)
	store := newMapStore()
	w := writeAll(t, schema, Options{Compression: "snappy"}, [][]any{{int64(1)}})
	add, err := w.Finish(context.Background(), store, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(add.Path, "-c000.snappy.parquet") || strings.Contains(add.Path, "/") {
		t.Errorf("path = %q", add.Path)
	}
	if _, err := ReadFile(context.Background(), store, &lakelog.Add{Path: "missing.parquet"}, schema); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestWriteCopiesBinary(t *testing.T) {
	schema := mustSchema(t, `{"type":"struct","fields":[{"name":"b","type":"binary","nullable":true,"metadata":{}}]}`)
	w, err := NewWriter(schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("first")
	if err := w.Write([]any{buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX") // the caller reuses its buffer while the row is batched
	if err := w.Write([]any{buf}); err != nil {
		t.Fatal(err)
	}
	data, _, err := w.FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadBytes("f", data, schema)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first", "XXXXX"} {
		row, ok := rows.Next()
		if !ok || string(row[0].([]byte)) != want {
			t.Fatalf("row = %v, %v; want %q (err %v)", row, ok, want, rows.Err())
		}
	}
}
