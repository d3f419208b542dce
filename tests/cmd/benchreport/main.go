// Command benchreport runs every benchmark of the repository and writes
// BENCHMARKS.md. It is what `make bench` runs, under scripts/testenv.sh so
// the benchmarks that need PostgreSQL, MariaDB or Kafka find them.
//
// It discovers benchmarks by reading the _test.go files of every package
// (no list to keep up to date), runs one `go test -run '^$' -bench` per
// package, parses the standard benchmark output (ns/op, MB/s, B/op,
// allocs/op and every b.ReportMetric unit), pairs each benchmark with the
// baseline measured in the same run (see baseline.go and docs/testing.md,
// "Benchmarks"), and writes each figure with the command that reproduces
// it, the machine and the date. The raw go test output is kept beside it
// for benchstat.
//
// It is a development tool, not part of sluice.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

// Settings are the go test flags every package is run with.
type Settings struct {
	Bench     string
	Benchtime string
	Count     int
	Timeout   string
	Full      bool // SLUICE_BENCH_FULL=1: the issue-target sizes
	Services  bool // the testenv variables were set when the run started
}

// PackageRun is one package's go test: its results, or why it has none.
type PackageRun struct {
	Package
	Results []*Result
	Elapsed time.Duration
	Err     error  // go test's exit status, when not 0
	Tail    string // the last lines of output when Err is set
}

func run() error {
	out := flag.String("o", "BENCHMARKS.md", "report file to write")
	raw := flag.String("raw", ".cache/bench/raw.txt", "file for the raw go test output (benchstat input); empty: none")
	pkgFilter := flag.String("pkg", "", "only packages whose import path matches this regexp")
	var s Settings
	flag.StringVar(&s.Bench, "bench", ".", "go test -bench regexp")
	flag.StringVar(&s.Benchtime, "benchtime", "1s", "go test -benchtime")
	flag.IntVar(&s.Count, "count", 1, "go test -count (figures are the median)")
	flag.StringVar(&s.Timeout, "timeout", "30m", "go test -timeout, per package")
	flag.BoolVar(&s.Full, "full", os.Getenv("SLUICE_BENCH_FULL") == "1", "run the full-size variants (sets SLUICE_BENCH_FULL=1)")
	flag.Parse()
	s.Services = os.Getenv("SLUICE_TEST_PG_DSN") != ""

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	var only *regexp.Regexp
	if *pkgFilter != "" {
		if only, err = regexp.Compile(*pkgFilter); err != nil {
			return fmt.Errorf("-pkg: %w", err)
		}
	}
	pkgs, err := Discover(ctx, root)
	if err != nil {
		return err
	}
	var rawOut io.Writer = io.Discard
	if *raw != "" {
		if err := os.MkdirAll(filepath.Dir(*raw), 0o755); err != nil {
			return err
		}
		f, err := os.Create(*raw)
		if err != nil {
			return err
		}
		defer f.Close()
		rawOut = f
	}

	rep := Report{Settings: s, Machine: DescribeMachine(ctx), Started: time.Now().UTC(), LoadStart: LoadAverage()}
	for _, p := range pkgs {
		if only != nil && !only.MatchString(p.ImportPath) {
			continue
		}
		pr := runPackage(ctx, p, s, rawOut)
		rep.Packages = append(rep.Packages, pr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	rep.Finished, rep.LoadEnd = time.Now().UTC(), LoadAverage()
	var buf bytes.Buffer
	rep.Render(&buf)
	// Figures measured by hand (runs too long or too large for make bench)
	// live after HandMeasuredMarker and survive the rewrite.
	if old, err := os.ReadFile(*out); err == nil {
		buf.Write(HandMeasured(old))
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchreport: wrote %s\n", *out)
	return nil
}

// goTestArgs is the go test command line for pattern in package rel.
func goTestArgs(s Settings, bench, rel string) []string {
	return []string{"go", "test", "-run", "^$", "-bench", bench, "-benchtime", s.Benchtime,
		"-count", fmt.Sprint(s.Count), "-timeout", s.Timeout, rel}
}

// runPackage runs one package's benchmarks, echoing the output to stderr so
// a long run shows progress.
func runPackage(ctx context.Context, p Package, s Settings, rawOut io.Writer) *PackageRun {
	args := goTestArgs(s, s.Bench, p.Rel)
	fmt.Fprintf(os.Stderr, "benchreport: %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = os.Environ()
	if s.Full {
		cmd.Env = append(cmd.Env, "SLUICE_BENCH_FULL=1")
	}
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, os.Stderr, rawOut)
	cmd.Stderr = io.MultiWriter(&buf, os.Stderr)
	start := time.Now()
	err := cmd.Run()
	pr := &PackageRun{Package: p, Elapsed: time.Since(start)}
	results, perr := Parse(bytes.NewReader(buf.Bytes()), p.ImportPath)
	pr.Results = results
	if err == nil {
		err = perr
	}
	if err != nil {
		pr.Err = err
		pr.Tail = lastLines(buf.String(), 15)
	}
	return pr
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
