package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/jobs"
)

// runWithin runs a command with a deadline (commands against unreachable
// services retry until their context ends).
func runWithin(t *testing.T, d time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	code = runMain(ctx, args, &cmdEnv{stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

// A run with credentials in the config and in the environment, against
// services that refuse the connection, must not print any of them: not in
// logs (debug level), errors, reports or validate's output.
func TestSecretsNeverPrinted(t *testing.T) {
	const marker = "Zq7-SECRET-MARKER"
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "my.pw")
	if err := os.WriteFile(pwFile, []byte(marker+"-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_PG_DSN", "postgres://cdc:"+marker+"-pg@127.0.0.1:1/app?sslmode=disable&connect_timeout=2")
	t.Setenv("TEST_KAFKA_PW", marker+"-kafka")
	cfgPath := filepath.Join(dir, "sluice.yaml")
	cfg := fmt.Sprintf(`
warehouse: %s
s3: {secret_access_key: %s-s3}
kafka:
  brokers: ["127.0.0.1:1"]
  sasl: {mechanism: PLAIN, username: sluice, password: ${TEST_KAFKA_PW}}
log: {level: debug, format: json}
sources:
  - {name: app, type: postgres, dsn: '${TEST_PG_DSN}'}
  - {name: shop, type: mariadb, addr: '127.0.0.1:1', user: cdc, password_file: %s, server_id: 7}
`, filepath.Join(dir, "lake"), marker, pwFile)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "--config", cfgPath},
		{"validate", "--config", cfgPath, "--json"},
		{"capture", "--config", cfgPath, "--source", "app"},
		{"capture", "--config", cfgPath, "--source", "shop"},
		{"ingest", "--config", cfgPath, "--report", "-"},
		{"status", "--config", cfgPath, "--json"},
	} {
		code, stdout, stderr := runWithin(t, 4*time.Second, args...)
		if strings.Contains(stdout+stderr, marker) {
			t.Errorf("%v printed a secret (exit %d):\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
		}
		if args[0] == "validate" && (code != jobs.ExitRetryable || !strings.Contains(stdout, "source app")) {
			t.Errorf("%v: exit %d, want %d with a line per source; stdout %s", args, code, jobs.ExitRetryable, stdout)
		}
		if args[0] == "ingest" && code != jobs.ExitRetryable {
			t.Errorf("ingest against an unreachable broker: exit %d, want %d; stderr %s", code, jobs.ExitRetryable, stderr)
		}
	}
}

func TestBadConfigNamesTheField(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(p, []byte("warehouse: /x\nmerge: {delete_mode: sometimes}\n"), 0o600)
	for _, cmd := range []string{"ingest", "merge", "run", "compact", "status", "validate", "capture"} {
		code, _, stderr := run(t, cmd, "--config", p)
		if code != jobs.ExitUsage || !strings.Contains(stderr, "merge.delete_mode") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, stderr)
		}
	}
	code, _, stderr := run(t, "run", "--config", filepath.Join(dir, "missing.yaml"))
	if code != jobs.ExitUsage || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing config: exit %d, stderr %q", code, stderr)
	}
}

// merge before anything was ingested has nothing to do: exit 0, and a JSON
// report on stdout that says so.
func TestMergeReportOnEmptyLake(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(p, []byte("warehouse: "+filepath.Join(dir, "lake")+"\n"), 0o600)
	code, stdout, stderr := run(t, "merge", "--config", p, "--report", "-")
	var rep struct {
		Job      string `json:"job"`
		OK       bool   `json:"ok"`
		ExitCode int    `json:"exit_code"`
		Error    string `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report is not JSON (exit %d): %v\n%s\n%s", code, err, stdout, stderr)
	}
	if rep.Job != "merge" || rep.ExitCode != code || code != 0 || !rep.OK {
		t.Errorf("report %+v, exit %d", rep, code)
	}
}

func TestHelpMentionsEveryFlag(t *testing.T) {
	for name, c := range commands {
		_, out, _ := run(t, name, "--help")
		// Every flag in the usage line must be defined (shown under Flags).
		for _, f := range strings.Fields(c.usage) {
			f = strings.Trim(f, "[]|.")
			if strings.HasPrefix(f, "--") {
				if !strings.Contains(out, "  -"+strings.TrimPrefix(f, "--")) {
					t.Errorf("%s --help: usage names %s but no such flag is listed:\n%s", name, f, out)
				}
			}
		}
	}
}
