package main

import "strings"

// The baseline convention (docs/testing.md, "Benchmarks"): a benchmark's
// baseline is measured in the same `go test` process, so both figures share
// the machine's load at that moment. It is either
//
//   - a sub-benchmark whose last name element starts with "baseline"
//     (b.Run("baseline-copy-to-discard", ...)): the baseline of its siblings
//     and of everything below them; the nearest one wins, or
//   - a twin function BenchmarkXBaseline: the baseline of BenchmarkX (and of
//     BenchmarkX/sub, paired with BenchmarkXBaseline/sub when it exists).

// isBaseline reports whether name is itself a baseline measurement.
func isBaseline(name string) bool {
	elems := strings.Split(name, "/")
	if strings.HasSuffix(elems[0], "Baseline") {
		return true
	}
	for _, e := range elems[1:] {
		if strings.HasPrefix(e, "baseline") {
			return true
		}
	}
	return false
}

// baselineFor returns the name of the result that is name's baseline, or ""
// when it has none. names holds every result of the same package run.
func baselineFor(name string, names []string) string {
	if isBaseline(name) {
		return ""
	}
	elems := strings.Split(name, "/")
	// Nearest sibling "baseline…" sub-benchmark, walking up the tree.
	for depth := len(elems) - 1; depth >= 1; depth-- {
		parent := strings.Join(elems[:depth], "/") + "/"
		for _, n := range names {
			rest, ok := strings.CutPrefix(n, parent)
			if ok && strings.HasPrefix(rest, "baseline") {
				return n
			}
		}
	}
	// A BenchmarkXBaseline twin: same sub-path if it has one, else the twin.
	twin := elems[0] + "Baseline"
	want := strings.Join(append([]string{twin}, elems[1:]...), "/")
	var top string
	for _, n := range names {
		if n == want {
			return n
		}
		if n == twin {
			top = n
		}
	}
	return top
}
