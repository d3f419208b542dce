package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/jobs"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(context.Background(), args, &cmdEnv{stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

func fixture(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "testdata", "delta", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v (the shared testdata must sit beside the repository)", rel, err)
	}
	return p
}

func TestUsageAndUnknownCommand(t *testing.T) {
	if code, _, _ := run(t); code != jobs.ExitUsage {
		t.Errorf("no args: exit %d, want %d", code, jobs.ExitUsage)
	}
	code, _, stderr := run(t, "frobnicate")
	if code != jobs.ExitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
	if code, out, _ := run(t, "help"); code != 0 || !strings.Contains(out, "describe") {
		t.Errorf("help: exit %d, out %q", code, out)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		code, out, _ := run(t, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: sluice "+name) {
			t.Errorf("%s --help: exit %d, out %q", name, code, out)
		}
	}
}

// The expectations come from the fixture's own log: simple_table has commits
// 0..4 (five JSON files), its last commit is a DELETE, and its protocol is
// (1,2); its schema has one column "id" of type long.
func TestDescribeJSON(t *testing.T) {
	code, out, stderr := run(t, "describe", fixture(t, "delta-rs/simple_table"), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var d struct {
		Version       int64 `json:"version"`
		NumFiles      int   `json:"numFiles"`
		LastOperation string
		Protocol      struct{ MinReaderVersion, MinWriterVersion int }
		Schema        []struct{ Name, Type string }
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if d.Version != 4 || d.LastOperation != "DELETE" || d.Protocol.MinReaderVersion != 1 || d.Protocol.MinWriterVersion != 2 {
		t.Errorf("got version %d op %q protocol %+v", d.Version, d.LastOperation, d.Protocol)
	}
	if len(d.Schema) != 1 || d.Schema[0].Name != "id" || d.Schema[0].Type != "long" {
		t.Errorf("schema = %+v", d.Schema)
	}
	// Time travel to version 0.
	code, out, _ = run(t, "describe", "--version", "0", fixture(t, "delta-rs/simple_table"), "--json")
	if code != 0 || !strings.Contains(out, `"version": 0`) {
		t.Errorf("--version 0: exit %d out %s", code, out)
	}
}

func TestDescribeRefusals(t *testing.T) {
	code, _, stderr := run(t, "describe", fixture(t, "spark-golden/deltalog-invalid-protocol-version"))
	if code != jobs.ExitNeedsAction || !strings.Contains(stderr, "minReaderVersion") {
		t.Errorf("invalid protocol: exit %d stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "describe", t.TempDir())
	if code != jobs.ExitUsage || !strings.Contains(stderr, "no delta table") {
		t.Errorf("empty dir: exit %d stderr %q", code, stderr)
	}
	code, _, _ = run(t, "describe")
	if code != jobs.ExitUsage {
		t.Errorf("no location: exit %d", code)
	}
	code, _, stderr = run(t, "describe", "ftp://x/y")
	if code != jobs.ExitUsage || !strings.Contains(stderr, "ftp") {
		t.Errorf("bad scheme: exit %d stderr %q", code, stderr)
	}
}
