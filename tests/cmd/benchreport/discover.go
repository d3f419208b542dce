package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Package is a Go package whose test files declare benchmarks.
type Package struct {
	ImportPath string
	Rel        string   // "./schemas": the pattern go test is given
	Benchmarks []string // top-level function names, in file order
	// Services: a test file imports tests/testenv, so some benchmark may
	// need the real services; its command is run under scripts/testenv.sh.
	Services bool
}

var (
	benchFunc     = regexp.MustCompile(`(?m)^func (Benchmark\w*)\(\w+ \*testing\.B\)`)
	importTestenv = regexp.MustCompile(`"github\.com/sluicehq/sluice/tests/testenv"`)
)

// Discover lists the packages under root whose _test.go files declare a
// Benchmark function, found by reading the files (go list does not compile
// anything), so a benchmark added anywhere is picked up without a list to
// maintain.
func Discover(ctx context.Context, root string) ([]Package, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-f",
		`{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}`, "./...")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 {
			continue
		}
		p := Package{ImportPath: parts[0]}
		rel, err := filepath.Rel(root, parts[1])
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", parts[0], err)
		}
		p.Rel = "./" + filepath.ToSlash(rel)
		for _, f := range strings.Split(parts[2], ",") {
			if f == "" {
				continue
			}
			src, err := os.ReadFile(filepath.Join(parts[1], f))
			if err != nil {
				return nil, fmt.Errorf("package %s: %w", parts[0], err)
			}
			for _, m := range benchFunc.FindAllSubmatch(src, -1) {
				p.Benchmarks = append(p.Benchmarks, string(m[1]))
			}
			if importTestenv.Match(src) {
				p.Services = true
			}
		}
		if len(p.Benchmarks) > 0 {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, sc.Err()
}
