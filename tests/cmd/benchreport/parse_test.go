package main

import (
	"reflect"
	"strings"
	"testing"
)

// sample is go test output as Go 1.26 prints it, with a skipped and a
// failed benchmark, a parent line without figures and a log line.
const sample = `goos: linux
goarch: amd64
pkg: github.com/sluicehq/sluice/snapshot/postgres
cpu: AMD EPYC
BenchmarkSnapshot/baseline-copy-to-discard-2         	       1	1500000000 ns/op	    666667 rows/s
BenchmarkSnapshot/workers=1-2                        	       1	4000000000 ns/op	    250000 rows/s	        87.50 bytes/row
BenchmarkSnapshot/workers=1-2                        	       1	2000000000 ns/op	    500000 rows/s	        87.50 bytes/row
BenchmarkSnapshot/workers=1-2                        	       1	3000000000 ns/op	    333333 rows/s	        87.50 bytes/row
BenchmarkWriteRaw
    bench_test.go:12: a log line
BenchmarkWriteRaw-2      	   20000	     51234 ns/op	  20.50 MB/s	    1200 B/op	       3 allocs/op
--- SKIP: BenchmarkStream/concurrent
    helpers_test.go:40: SLUICE_TEST_MYSQL_ADDR not set
--- FAIL: BenchmarkMerge/inserts-2
    bench_test.go:77: merge: boom
FAIL
exit status 1
FAIL	github.com/sluicehq/sluice/snapshot/postgres	12.3s
`

func TestParse(t *testing.T) {
	got, err := Parse(strings.NewReader(sample), "fallback")
	if err != nil {
		t.Fatal(err)
	}
	pkg := "github.com/sluicehq/sluice/snapshot/postgres"
	want := []*Result{
		{Pkg: pkg, Name: "BenchmarkSnapshot/baseline-copy-to-discard", Runs: []Run{{1, []Metric{{1.5e9, "ns/op"}, {666667, "rows/s"}}}}},
		{Pkg: pkg, Name: "BenchmarkSnapshot/workers=1", Runs: []Run{
			{1, []Metric{{4e9, "ns/op"}, {250000, "rows/s"}, {87.5, "bytes/row"}}},
			{1, []Metric{{2e9, "ns/op"}, {500000, "rows/s"}, {87.5, "bytes/row"}}},
			{1, []Metric{{3e9, "ns/op"}, {333333, "rows/s"}, {87.5, "bytes/row"}}},
		}},
		{Pkg: pkg, Name: "BenchmarkWriteRaw", Runs: []Run{{20000, []Metric{{51234, "ns/op"}, {20.5, "MB/s"}, {1200, "B/op"}, {3, "allocs/op"}}}}},
		{Pkg: pkg, Name: "BenchmarkStream/concurrent", Status: "SKIP", Reason: "helpers_test.go:40: SLUICE_TEST_MYSQL_ADDR not set"},
		{Pkg: pkg, Name: "BenchmarkMerge/inserts", Status: "FAIL", Reason: "bench_test.go:77: merge: boom"},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			if i < len(got) && i < len(want) && reflect.DeepEqual(got[i], want[i]) {
				continue
			}
			var g, w any
			if i < len(got) {
				g = *got[i]
			}
			if i < len(want) {
				w = *want[i]
			}
			t.Errorf("result %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestMedian(t *testing.T) {
	res := &Result{Runs: []Run{
		{1, []Metric{{4, "ns/op"}, {10, "rows/s"}}},
		{1, []Metric{{2, "ns/op"}, {30, "rows/s"}}},
		{1, []Metric{{3, "ns/op"}, {20, "rows/s"}}},
		{1, []Metric{{9, "ns/op"}, {40, "rows/s"}}},
	}}
	want := []Metric{{3.5, "ns/op"}, {25, "rows/s"}}
	if got := res.Median(); !reflect.DeepEqual(got, want) {
		t.Errorf("Median() = %v, want %v", got, want)
	}
}

func TestBaselineFor(t *testing.T) {
	names := []string{
		"BenchmarkParseHeader/schema=false/1183B/ParseHeader",
		"BenchmarkParseHeader/schema=false/1183B/baseline-encoding-json-map",
		"BenchmarkParseHeader/schema=true/4902B/ParseHeader",
		"BenchmarkParseHeader/schema=true/4902B/baseline-encoding-json-map",
		"BenchmarkSnapshot/baseline-copy-to-discard",
		"BenchmarkSnapshot/workers=1",
		"BenchmarkWriteRaw",
		"BenchmarkWriteRawBaseline",
		"BenchmarkCommit/memblob/baseline-put-if-absent",
		"BenchmarkCommit/memblob/no-checkpoints",
		"BenchmarkCommit/fileblob/baseline-put-if-absent",
		"BenchmarkCommit/fileblob/no-checkpoints",
		"BenchmarkMerge/inserts",
	}
	for _, tc := range []struct{ name, want string }{
		{"BenchmarkParseHeader/schema=true/4902B/ParseHeader", "BenchmarkParseHeader/schema=true/4902B/baseline-encoding-json-map"},
		{"BenchmarkParseHeader/schema=true/4902B/baseline-encoding-json-map", ""},
		{"BenchmarkSnapshot/workers=1", "BenchmarkSnapshot/baseline-copy-to-discard"},
		{"BenchmarkWriteRaw", "BenchmarkWriteRawBaseline"},
		{"BenchmarkWriteRawBaseline", ""},
		{"BenchmarkCommit/fileblob/no-checkpoints", "BenchmarkCommit/fileblob/baseline-put-if-absent"},
		{"BenchmarkMerge/inserts", ""},
	} {
		if got := baselineFor(tc.name, names); got != tc.want {
			t.Errorf("baselineFor(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"go", "test", "-run", "^$", "-bench", "^(BenchmarkA|BenchmarkABaseline)$", "./x"})
	want := `go test -run '^$' -bench '^(BenchmarkA|BenchmarkABaseline)$' ./x`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
}
