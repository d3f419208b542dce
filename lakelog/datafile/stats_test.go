package datafile

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTruncateMin(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abcdef", 3, "abc"},
		{"abc", 3, "abc"},
		{"", 3, ""},
		{"日本語テキスト", 3, "日本語"},
		// 🎉 is a surrogate pair in UTF-16: at unit 2 of 3 it is kept whole.
		{"ab🎉cd", 3, "ab🎉"},
		{"a🎉cd", 3, "a🎉"},
		{strings.Repeat("a", 40), 32, strings.Repeat("a", 32)},
		{strings.Repeat("é", 40), 32, strings.Repeat("é", 32)},
	} {
		if got := TruncateMin(tc.in, tc.n); got != tc.want {
			t.Errorf("TruncateMin(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestTruncateMax(t *testing.T) {
	const top = "\U0010FFFF"
	for _, tc := range []struct {
		in   string
		n    int
		want string
		ok   bool
	}{
		{"abc", 3, "abc", true},
		{"abcdef", 3, "abc\x7f", true},
		{"abcé", 3, "abc" + top, true},
		{"abc日本", 3, "abc" + top, true},
		{"abc" + top + "d", 3, "abc" + top + "\x7f", true},
		{"abc" + top, 3, "abc" + top, true}, // nothing left after the skip: v itself
		{"ab" + top + top + top + "x", 2, "", false},
		{"ab🎉cd", 3, "ab🎉\x7f", true},
		{strings.Repeat("a", 40), 32, strings.Repeat("a", 32) + "\x7f", true},
		{strings.Repeat("é", 40), 32, strings.Repeat("é", 32) + top, true},
		{"abc\xffd", 3, "", false},
	} {
		got, ok := TruncateMax(tc.in, tc.n)
		if got != tc.want || ok != tc.ok {
			t.Errorf("TruncateMax(%q, %d) = %q, %v; want %q, %v", tc.in, tc.n, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "abc", "ab🎉cd", "abc\U0010FFFFd", strings.Repeat("é", 40), "\xff\xfe"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n%40 + 1
		if n <= 0 {
			n += 40
		}
		min := TruncateMin(s, n)
		if min > s || !strings.HasPrefix(s, min) {
			t.Errorf("TruncateMin(%q, %d) = %q is not a prefix <= input", s, n, min)
		}
		if utf8.ValidString(s) && !utf8.ValidString(min) {
			t.Errorf("TruncateMin(%q, %d) = %q split a character", s, n, min)
		}
		max, ok := TruncateMax(s, n)
		if !ok {
			return
		}
		if max < s {
			t.Errorf("TruncateMax(%q, %d) = %q < input", s, n, max)
		}
		// Any string sharing the truncated part orders below the bound too.
		if longer := s + "\U0010FFFF\U0010FFFF"; max != s && max < longer {
			t.Errorf("TruncateMax(%q, %d) = %q < %q", s, n, max, longer)
		}
	})
}

const statsSchema = `{"type":"struct","fields":[
 {"name":"id","type":"long","nullable":true,"metadata":{}},
 {"name":"name","type":"string","nullable":true,"metadata":{}},
 {"name":"ts","type":"timestamp","nullable":true,"metadata":{}},
 {"name":"dt","type":"date","nullable":true,"metadata":{}},
 {"name":"dec","type":"decimal(5,2)","nullable":true,"metadata":{}},
 {"name":"dbl","type":"double","nullable":true,"metadata":{}},
 {"name":"flt","type":"float","nullable":true,"metadata":{}},
 {"name":"b","type":"boolean","nullable":true,"metadata":{}},
 {"name":"bin","type":"binary","nullable":true,"metadata":{}},
 {"name":"st","type":{"type":"struct","fields":[
   {"name":"x","type":"integer","nullable":true,"metadata":{}},
   {"name":"y","type":"string","nullable":true,"metadata":{}}]},"nullable":true,"metadata":{}},
 {"name":"arr","type":{"type":"array","elementType":"long","containsNull":true},"nullable":true,"metadata":{}},
 {"name":"ntz","type":"timestamp_ntz","nullable":true,"metadata":{}},
 {"name":"big","type":"decimal(38,3)","nullable":true,"metadata":{}}
]}`

func statsRows() [][]any {
	utc := time.UTC
	return [][]any{
		{int64(5), "banana", time.UnixMicro(-1), time.Date(1960, 2, 29, 0, 0, 0, 0, utc), big.NewInt(-1), 1.5, float32(1), true, []byte{1},
			[]any{int32(1), "q"}, []any{int64(1)}, time.Date(2020, 1, 1, 0, 0, 0, 999000, utc), bigInt("-12345678901234567890123")},
		{int64(-3), "apple", time.Date(2024, 1, 1, 0, 0, 0, 500000, utc), time.Date(2000, 1, 1, 0, 0, 0, 0, utc), big.NewInt(12345), -0.25, float32(math.NaN()), false, nil,
			nil, nil, time.Date(2020, 1, 1, 0, 0, 0, 0, utc), big.NewInt(5)},
		{nil, strings.Repeat("z", 40), nil, nil, nil, nil, nil, nil, []byte{},
			[]any{int32(-4), nil}, []any{}, nil, nil},
	}
}

func TestStatsJSON(t *testing.T) {
	w := writeAll(t, mustSchema(t, statsSchema), Options{}, statsRows())
	_, got, err := w.FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	// Hand-computed: ts min -1µs floors to .999, ts max .0005 ceils to .001;
	// flt has a NaN so no bounds; boolean/binary/array only count nulls; the
	// 40-char string max is cut to 32 and tie-broken with U+007F.
	want := `{"numRecords":3,` +
		`"minValues":{"id":-3,"name":"apple","ts":"1969-12-31T23:59:59.999Z","dt":"1960-02-29","dec":-0.01,"dbl":-0.25,"st":{"x":-4,"y":"q"},"ntz":"2020-01-01T00:00:00.000","big":-12345678901234567890.123},` +
		`"maxValues":{"id":5,"name":"` + strings.Repeat("z", 32) + "\x7f" + `","ts":"2024-01-01T00:00:00.001Z","dt":"2000-01-01","dec":123.45,"dbl":1.5,"st":{"x":1,"y":"q"},"ntz":"2020-01-01T00:00:00.001","big":0.005},` +
		`"nullCount":{"id":1,"name":0,"ts":1,"dt":1,"dec":1,"dbl":1,"flt":1,"b":1,"bin":1,"st":{"x":1,"y":2},"arr":1,"ntz":1,"big":1}}`
	if got != want {
		t.Errorf("stats:\n got %s\nwant %s", got, want)
	}
}

func TestStatsNumIndexedCols(t *testing.T) {
	// Three leaves indexed: id, name, ts. The struct's leaves count one by one.
	w := writeAll(t, mustSchema(t, statsSchema), Options{NumIndexedCols: 3}, statsRows()[:1])
	_, got, err := w.FinishBytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"numRecords":1,"minValues":{"id":5,"name":"banana","ts":"1969-12-31T23:59:59.999Z"},"maxValues":{"id":5,"name":"banana","ts":"1970-01-01T00:00:00.000Z"},"nullCount":{"id":0,"name":0,"ts":0}}`
	if got != want {
		t.Errorf("stats:\n got %s\nwant %s", got, want)
	}
}

func TestAppendDecimal(t *testing.T) {
	for _, tc := range []struct {
		digits string
		scale  int
		want   string
	}{
		{"0", 2, "0.00"}, {"5", 3, "0.005"}, {"-5", 3, "-0.005"}, {"12345", 2, "123.45"}, {"-12345", 0, "-12345"},
	} {
		if got := string(appendDecimal(nil, tc.digits, tc.scale)); got != tc.want {
			t.Errorf("appendDecimal(%s, %d) = %s, want %s", tc.digits, tc.scale, got, tc.want)
		}
	}
}
