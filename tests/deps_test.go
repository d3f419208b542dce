package tests

// The dependency rules of DESIGN.md and STYLE.md §9, checked on the import
// graph that `go list` reports for every package of the module. Only non-test
// imports count: a _test.go file may import whatever it needs.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/sluicehq/sluice"

// stages are the pipeline parts that never import each other.
var stages = []string{"capture", "ingest", "snapshot", "merge"}

// stores are the concrete blob.Store backends; only the wiring imports them.
var stores = []string{"lakelog/blob/fileblob", "lakelog/blob/s3blob", "lakelog/blob/memblob"}

// wiring are the packages allowed to put concrete parts together.
var wiring = []string{"jobs", "cmd", "tests"}

// sdks maps each third-party module prefix to the only packages (and their
// subpackages) whose non-test code may import it.
var sdks = []struct {
	prefix  string
	allowed []string
}{
	{"github.com/aws/", []string{"lakelog/blob/s3blob", "tests"}},
	{"github.com/go-mysql-org/go-mysql", []string{"capture/mysql", "tests"}},
	{"github.com/jackc/pglogrepl", []string{"capture/postgres", "tests"}},
	{"github.com/twmb/franz-go/pkg/kfake", []string{"jobs", "tests"}},
	{"github.com/twmb/franz-go", []string{"capture", "ingest", "jobs", "cmd", "tests"}},
}

// within reports whether package path p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func withinAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if within(p, d) {
			return true
		}
	}
	return false
}

// violation returns why the import from → imp breaks a rule, or "". from is
// a package path relative to the module; imp is a full import path.
func violation(from, imp string) string {
	if !within(imp, module) {
		for _, s := range sdks {
			if strings.HasPrefix(imp, s.prefix) {
				if !withinAny(from, s.allowed) {
					return s.prefix + "... may be imported only by " + strings.Join(s.allowed, ", ")
				}
				return "" // the first matching prefix decides (kfake before franz-go)
			}
		}
		return ""
	}
	to := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")

	switch {
	case within(from, "schemas") && !within(to, "schemas"):
		return "schemas imports nothing internal"
	case within(from, "lakelog") && !within(to, "lakelog") && !within(to, "schemas"):
		return "lakelog/... may import only lakelog/... and schemas"
	case within(to, "tests") && !within(from, "tests"):
		return "only tests import tests/..."
	case within(to, "jobs") && !within(from, "jobs") && !withinAny(from, []string{"cmd", "tests"}):
		return "only cmd and tests import jobs"
	}
	for _, a := range stages {
		for _, b := range stages {
			if a != b && within(from, a) && within(to, b) {
				return "capture, ingest, snapshot and merge never import each other"
			}
		}
	}
	for _, s := range stores {
		if within(to, s) && !within(from, s) && !withinAny(from, wiring) {
			return "only jobs, cmd and tests import concrete stores (" + strings.Join(stores, ", ") + ")"
		}
	}
	return ""
}

// goPackage is the part of `go list -json` output this test reads.
type goPackage struct {
	ImportPath string
	Imports    []string // non-test imports only
	Error      *struct{ Err string }
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	cmd.Dir = ".." // the module root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestDependencyRules(t *testing.T) {
	pkgs := listPackages(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		from := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		seen[from] = true
		if p.Error != nil {
			t.Logf("%s: %s (imports checked as far as go list could read them)", p.ImportPath, p.Error.Err)
		}
		for _, imp := range p.Imports {
			if why := violation(from, imp); why != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, why)
			}
		}
	}
	// The listing must have found the module, or the rules checked nothing.
	for _, want := range []string{"schemas", "lakelog", "lakelog/blob", "capture"} {
		if !seen[want] {
			t.Errorf("go list did not report package %s; listed %d packages", want, len(pkgs))
		}
	}
}

// TestDependencyRulesCatchViolations checks the rule table itself against
// edges that DESIGN.md allows or forbids.
func TestDependencyRulesCatchViolations(t *testing.T) {
	for _, tc := range []struct {
		from, imp string
		bad       bool
	}{
		{"schemas", module + "/lakelog", true},
		{"schemas", "encoding/json", false},
		{"lakelog", module + "/schemas", false},
		{"lakelog/datafile", module + "/lakelog/blob", false},
		{"lakelog", module + "/capture", true},
		{"lakelog", module + "/lakelog/blob/s3blob", true},
		{"lakelog/blob/s3blob", "github.com/aws/aws-sdk-go-v2/service/s3", false},
		{"lakelog/blob/s3blob", "github.com/aws/smithy-go", false},
		{"lakelog", "github.com/aws/aws-sdk-go-v2/service/s3", true},
		{"jobs", "github.com/aws/aws-sdk-go-v2/aws", true},
		{"capture/mysql", module + "/snapshot", true},
		{"capture/mysql", module + "/capture", false},
		{"ingest", module + "/merge", true},
		{"merge", module + "/lakelog/datafile", false},
		{"snapshot", module + "/capture/postgres", true},
		{"ingest", module + "/lakelog/blob/fileblob", true},
		{"jobs", module + "/lakelog/blob/fileblob", false},
		{"cmd/sluice", module + "/lakelog/blob/memblob", false},
		{"cmd/sluice", module + "/jobs", false},
		{"merge", module + "/jobs", true},
		{"ingest", module + "/tests/testenv", true},
		{"tests", module + "/lakelog/blob/s3blob", false},
		{"capture/mysql", "github.com/go-mysql-org/go-mysql/replication", false},
		{"capture/postgres", "github.com/go-mysql-org/go-mysql/client", true},
		{"capture/postgres", "github.com/jackc/pglogrepl", false},
		{"snapshot", "github.com/jackc/pglogrepl", true},
		{"tests", "github.com/jackc/pglogrepl", false},
		{"ingest", "github.com/twmb/franz-go/pkg/kgo", false},
		{"merge", "github.com/twmb/franz-go/pkg/kgo", true},
		{"ingest", "github.com/twmb/franz-go/pkg/kfake", true},
		{"tests/cmd/kfakebroker", "github.com/twmb/franz-go/pkg/kfake", false},
	} {
		got := violation(tc.from, tc.imp) != ""
		if got != tc.bad {
			t.Errorf("%s imports %s: violation = %v, want %v", tc.from, tc.imp, got, tc.bad)
		}
	}
}

// TestFileSizes reports non-test Go files outside tests/ over 800 lines
// (STYLE.md: one concept per file). It is advice, so it only logs.
func TestFileSizes(t *testing.T) {
	const limit = 800
	checked := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "node_modules", "testdata", "tests", "bin":
				if path != ".." {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		lines := 0
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines++
		}
		if err := sc.Err(); err != nil {
			return err
		}
		checked++
		if lines > limit {
			t.Logf("warning: %s has %d lines (> %d); consider splitting it by concept", path, lines, limit)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if checked == 0 {
		t.Errorf("found no Go files to check")
	}
}
