package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRenderPairsBaselines(t *testing.T) {
	out := `pkg: example.com/x/datafile
BenchmarkWriteRaw-2          	 100	 5000 ns/op	 200 rows/s
BenchmarkWriteRawBaseline-2  	 100	 10000 ns/op	 100 rows/s
BenchmarkSnapshot/baseline-copy-2   	 1	 1000 ns/op	 4000 rows/s
BenchmarkSnapshot/workers=1-2       	 1	 1000 ns/op	 1000 rows/s
--- SKIP: BenchmarkStream
    x_test.go:9: SLUICE_TEST_MYSQL_ADDR not set
`
	res, err := Parse(strings.NewReader(out), "example.com/x/datafile")
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{
		Settings: Settings{Bench: ".", Benchtime: "1s", Count: 1, Timeout: "30m"},
		Started:  time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Finished: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC),
		Packages: []*PackageRun{{
			Package: Package{ImportPath: "example.com/x/datafile", Rel: "./datafile", Services: true,
				Benchmarks: []string{"BenchmarkWriteRaw", "BenchmarkWriteRawBaseline", "BenchmarkSnapshot", "BenchmarkStream"}},
			Results: res,
		}},
	}
	var buf bytes.Buffer
	r.Render(&buf)
	got := buf.String()
	for _, want := range []string{
		"scripts/testenv.sh run -- go test -run '^$' -bench '^(BenchmarkWriteRaw|BenchmarkWriteRawBaseline)$' -benchtime 1s -count 1 -timeout 30m ./datafile",
		"| BenchmarkWriteRaw | 100 | 5,000 ns/op · 200 rows/s | 2.00× rows/s of BenchmarkWriteRawBaseline |",
		"| BenchmarkWriteRawBaseline *(baseline)* | 100 | 10,000 ns/op · 100 rows/s |  |",
		"| workers=1 | 1 | 1,000 ns/op · 1,000 rows/s | 0.25× rows/s of baseline-copy |",
		"| BenchmarkStream | – | **SKIP**: x_test.go:9: SLUICE_TEST_MYSQL_ADDR not set | |",
		"-bench '^BenchmarkSnapshot$'",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(got, "### BenchmarkWriteRawBaseline") {
		t.Errorf("the twin baseline got its own section:\n%s", got)
	}
	if t.Failed() {
		t.Logf("report:\n%s", got)
	}
}
