package jobs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every Exit* constant of exitcode.go has a row in docs/operations.md's
// exit code table. The constants are read from the source, so a new code
// without documentation fails here.
func TestOperationsDocumentsEveryExitCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "exitcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Exit") {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.INT {
			t.Errorf("%s is not an integer literal", vs.Names[0].Name)
			return true
		}
		found++
		if !strings.Contains(string(doc), "\n| "+lit.Value+" | ") {
			t.Errorf("docs/operations.md has no exit code row for %s = %s", vs.Names[0].Name, lit.Value)
		}
		return true
	})
	if found < 7 {
		t.Errorf("found %d Exit constants in exitcode.go, want at least 7 (0 to 6)", found)
	}
}
