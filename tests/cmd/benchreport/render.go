package main

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Report is everything BENCHMARKS.md shows.
type Report struct {
	Settings           Settings
	Machine            Machine
	Started, Finished  time.Time
	LoadStart, LoadEnd string
	Packages           []*PackageRun
}

// Render writes the report as Markdown.
func (r *Report) Render(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Written by `make bench` (`tests/cmd/benchreport`) on %s, in %s. Regenerate with `make bench`;\n",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Finished.Sub(r.Started).Round(time.Second))
	fmt.Fprintf(w, "how benchmarks and their baselines are written: docs/testing.md, \"Benchmarks\".\n\n")
	fmt.Fprintf(w, "## Machine\n\n")
	fmt.Fprintf(w, "| | |\n|---|---|\n")
	fmt.Fprintf(w, "| CPU | %s |\n| logical CPUs | %d |\n| RAM | %.1f GiB |\n| Go | %s |\n| OS | %s |\n",
		r.Machine.CPU, r.Machine.CPUs, r.Machine.MemGiB, r.Machine.GoVersion, r.Machine.OS)
	fmt.Fprintf(w, "| load average (1, 5, 15 min) | %s at the start, %s at the end |\n\n", r.LoadStart, r.LoadEnd)
	fmt.Fprintf(w, "**This machine is shared** (several engineers building and testing on the same %d CPUs while\n", r.Machine.CPUs)
	fmt.Fprintf(w, "this ran), so absolute figures are noisy and pessimistic. Judge a benchmark against its\n")
	fmt.Fprintf(w, "baseline, measured in the same `go test` process moments apart under the same load, not against\n")
	fmt.Fprintf(w, "figures from another run or another machine.\n\n")

	fmt.Fprintf(w, "## Settings\n\n")
	fmt.Fprintf(w, "- every package: `%s` (the package's figures below come from one such process)\n",
		shellJoin(goTestArgs(s, s.Bench, "./PKG")))
	full := "unset: modest default sizes"
	if s.Full {
		full = "1: full-size variants"
	}
	fmt.Fprintf(w, "- `SLUICE_BENCH_FULL`: %s\n", full)
	services := "not started: benchmarks needing them are listed as skipped"
	if s.Services {
		services = "started by `scripts/testenv.sh run` (PostgreSQL 15, MariaDB 10.11, kfake, versitygw on loopback)"
	}
	fmt.Fprintf(w, "- services: %s\n", services)
	fmt.Fprintf(w, "- figures are the median of the %d run(s); \"vs baseline\" is this benchmark's value divided by\n", s.Count)
	fmt.Fprintf(w, "  its baseline's, for the throughput units both report (else ns/op; for ns/op lower is better)\n\n")

	for _, p := range r.Packages {
		r.renderPackage(w, p)
	}
}

func (r *Report) renderPackage(w io.Writer, p *PackageRun) {
	fmt.Fprintf(w, "## %s\n\n", p.ImportPath)
	fmt.Fprintf(w, "%d benchmark function(s), %s.", len(p.Benchmarks), p.Elapsed.Round(time.Second))
	if p.Services {
		fmt.Fprintf(w, " Its tests use the real services (tests/testenv), hence the `scripts/testenv.sh run --` prefix.")
	}
	fmt.Fprintf(w, "\n\n")
	if p.Err != nil {
		fmt.Fprintf(w, "**go test failed** (%v); last lines:\n\n```\n%s\n```\n\n", p.Err, p.Tail)
	}
	names := make([]string, len(p.Results))
	byName := map[string]*Result{}
	for i, res := range p.Results {
		names[i] = res.Name
		byName[res.Name] = res
	}
	for _, g := range groups(p) {
		fmt.Fprintf(w, "### %s\n\n", g.name)
		fmt.Fprintf(w, "```\n%s\n```\n\n", reproduce(r.Settings, p.Package, g))
		if len(g.results) == 0 {
			fmt.Fprintf(w, "No result (see the go test output above or in the raw output).\n\n")
			continue
		}
		fmt.Fprintf(w, "| benchmark | iterations | figures | vs baseline |\n|---|---|---|---|\n")
		for _, res := range g.results {
			name := res.Name
			if rel, ok := strings.CutPrefix(name, g.name+"/"); ok {
				name = rel
			}
			if isBaseline(res.Name) {
				name += " *(baseline)*"
			}
			if res.Status != "" {
				fmt.Fprintf(w, "| %s | – | **%s**: %s | |\n", cell(name), res.Status, cell(res.Reason))
				continue
			}
			vs := "none"
			if isBaseline(res.Name) {
				vs = ""
			} else if b := baselineFor(res.Name, names); b != "" {
				vs = versus(res, byName[b], strings.TrimPrefix(b, g.name+"/"))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", cell(name), iterations(res), cell(figures(res.Median())), cell(vs))
		}
		fmt.Fprintf(w, "\n")
	}
}

// group is one top-level benchmark with its BenchmarkXBaseline twin.
type group struct {
	name    string
	funcs   []string
	results []*Result
}

// groups orders a package's results by benchmark function, in source
// order, folding a BenchmarkXBaseline twin into BenchmarkX's group.
func groups(p *PackageRun) []*group {
	var out []*group
	byFunc := map[string]*group{}
	add := func(fn string) *group {
		key := fn
		if base, ok := strings.CutSuffix(fn, "Baseline"); ok && (slices.Contains(p.Benchmarks, base) || byFunc[base] != nil) {
			key = base
		}
		g := byFunc[key]
		if g == nil {
			g = &group{name: key}
			byFunc[key] = g
			out = append(out, g)
		}
		if !slices.Contains(g.funcs, fn) {
			g.funcs = append(g.funcs, fn)
		}
		byFunc[fn] = g
		return g
	}
	for _, fn := range p.Benchmarks {
		add(fn)
	}
	for _, res := range p.Results {
		g := add(res.Top())
		g.results = append(g.results, res)
	}
	return out
}

// reproduce is the command that runs one group (the benchmark and its
// baseline together, as they were measured) from the repository root.
func reproduce(s Settings, p Package, g *group) string {
	quoted := make([]string, len(g.funcs))
	for i, f := range g.funcs {
		quoted[i] = regexp.QuoteMeta(f)
	}
	bench := "^" + quoted[0] + "$"
	if len(quoted) > 1 {
		bench = "^(" + strings.Join(quoted, "|") + ")$"
	}
	cmd := shellJoin(goTestArgs(s, bench, p.Rel))
	if s.Full {
		cmd = "SLUICE_BENCH_FULL=1 " + cmd
	}
	if p.Services {
		cmd = "scripts/testenv.sh run -- " + cmd
	}
	return cmd
}

func iterations(res *Result) string {
	parts := make([]string, len(res.Runs))
	for i, run := range res.Runs {
		parts[i] = fmt.Sprint(run.Iterations)
	}
	return strings.Join(parts, ", ")
}

func figures(ms []Metric) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = formatValue(m.Value) + " " + m.Unit
	}
	return strings.Join(parts, " · ")
}

// versus compares res with its baseline on the throughput units (".../s")
// both report, or on ns/op when they share none.
func versus(res, base *Result, baseName string) string {
	if base == nil || len(base.Runs) == 0 {
		return ""
	}
	bm := map[string]float64{}
	for _, m := range base.Median() {
		bm[m.Unit] = m.Value
	}
	var parts []string
	var nsop string
	for _, m := range res.Median() {
		b, ok := bm[m.Unit]
		if !ok || b == 0 {
			continue
		}
		ratio := fmt.Sprintf("%s× %s", formatRatio(m.Value/b), m.Unit)
		if strings.HasSuffix(m.Unit, "/s") {
			parts = append(parts, ratio)
		} else if m.Unit == "ns/op" {
			nsop = ratio
		}
	}
	if len(parts) == 0 && nsop != "" {
		parts = append(parts, nsop)
	}
	if len(parts) == 0 {
		return "no common unit with " + baseName
	}
	return strings.Join(parts, ", ") + " of " + baseName
}

// formatValue prints three significant digits, and whole numbers with
// thousands separators from 1000 up.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return groupThousands(fmt.Sprintf("%.0f", v))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a == 0:
		return "0"
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func formatRatio(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// cell escapes a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// shellJoin quotes the arguments a POSIX shell would otherwise interpret.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, "^$*?[]()|&;<>'\"\\ \t{}!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
