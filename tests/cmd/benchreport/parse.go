package main

import (
	"bufio"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Metric is one value/unit pair of a benchmark line: "123 ns/op",
// "4.5 MB/s", or a custom b.ReportMetric unit such as "events/s".
type Metric struct {
	Value float64
	Unit  string
}

// Run is one line of `go test -bench` output: one measurement.
type Run struct {
	Iterations int64
	Metrics    []Metric
}

// Result is every measurement of one benchmark (one per -count) in one
// package, or why it has none.
type Result struct {
	Pkg    string
	Name   string // full name without the -GOMAXPROCS suffix: BenchmarkX/sub
	Runs   []Run
	Status string // "", "SKIP" or "FAIL"
	Reason string // first line of the skip or failure message
}

// procsSuffix is the "-N" go test appends to a benchmark name when
// GOMAXPROCS is not 1.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads the output of one `go test -bench` process (one package) and
// returns its results in the order they first appear. pkg names the package
// when the output has no "pkg:" line (a package without benchmarks).
func Parse(r io.Reader, pkg string) ([]*Result, error) {
	var out []*Result
	byName := map[string]*Result{}
	get := func(name string) *Result {
		res, ok := byName[name]
		if !ok {
			res = &Result{Pkg: pkg, Name: name}
			byName[name] = res
			out = append(out, res)
		}
		return res
	}
	var pending *Result // a SKIP/FAIL whose reason is the next indented line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if pending != nil {
			if strings.HasPrefix(line, "    ") && trimmed != "" {
				if pending.Reason == "" {
					pending.Reason = trimmed
				}
				continue
			}
			pending = nil
		}
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(trimmed, "--- SKIP: Benchmark"), strings.HasPrefix(trimmed, "--- FAIL: Benchmark"):
			f := strings.Fields(trimmed)
			if len(f) < 3 {
				continue
			}
			res := get(stripProcs(f[2]))
			res.Status = strings.TrimSuffix(f[1], ":")
			pending = res
		case strings.HasPrefix(line, "Benchmark"):
			name, run, ok := parseLine(line)
			if !ok {
				continue
			}
			res := get(name)
			res.Runs = append(res.Runs, run)
		}
	}
	return out, sc.Err()
}

// parseLine parses "BenchmarkX/sub-2  \t 100\t 123 ns/op\t 4.5 events/s".
// Lines that are only a name (a parent benchmark, or one that printed a log
// before its result) are not measurements.
func parseLine(line string) (string, Run, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return "", Run{}, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return "", Run{}, false
	}
	run := Run{Iterations: n}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", Run{}, false
		}
		run.Metrics = append(run.Metrics, Metric{Value: v, Unit: f[i+1]})
	}
	return stripProcs(f[0]), run, true
}

func stripProcs(name string) string {
	return procsSuffix.ReplaceAllString(name, "")
}

// Median is the median of each unit over the runs, in the order the units
// first appear (go test's order, then the benchmark's ReportMetric order).
func (r *Result) Median() []Metric {
	var units []string
	vals := map[string][]float64{}
	for _, run := range r.Runs {
		for _, m := range run.Metrics {
			if _, ok := vals[m.Unit]; !ok {
				units = append(units, m.Unit)
			}
			vals[m.Unit] = append(vals[m.Unit], m.Value)
		}
	}
	out := make([]Metric, 0, len(units))
	for _, u := range units {
		v := vals[u]
		sort.Float64s(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		out = append(out, Metric{Value: med, Unit: u})
	}
	return out
}

// Top is the top-level benchmark function: BenchmarkX of BenchmarkX/a/b.
func (r *Result) Top() string {
	top, _, _ := strings.Cut(r.Name, "/")
	return top
}
