package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/jobs"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
)

// One-shot commands take the same lake lease as `sluice schedule`: while a
// daemon (here: a lease taken the way it takes them) runs merge, `sluice
// merge` and `sluice run` do nothing and exit 6 naming the holder, compact
// runs, and --wait waits for the release.
func TestOneShotCommandsTakeTheLease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte("warehouse: "+lake+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := fileblob.New(lake)
	if err != nil {
		t.Fatal(err)
	}
	daemon := jobs.NewLeases(store, jobs.LeaseOptions{Holder: "schedule-daemon-7"})
	le, err := daemon.Acquire(ctx, "merge")
	if err != nil {
		t.Fatal(err)
	}

	for _, cmd := range []string{"merge", "run"} {
		code, stdout, stderr := run(t, cmd, "--config", cfgPath, "--report", "-")
		if code != jobs.ExitLeaseHeld {
			t.Errorf("%s while merge's lease is held: exit %d, want %d\nstderr: %s", cmd, code, jobs.ExitLeaseHeld, stderr)
		}
		if !strings.Contains(stderr, "schedule-daemon-7") || !strings.Contains(stderr, "lease merge") || !strings.Contains(stderr, " until ") {
			t.Errorf("%s: stderr %q does not name the lease, its holder and its expiry", cmd, stderr)
		}
		var rep struct {
			Job      string `json:"job"`
			OK       bool   `json:"ok"`
			ExitCode int    `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Job != cmd || rep.OK || rep.ExitCode != jobs.ExitLeaseHeld {
			t.Errorf("%s: report %+v (%v), want job %s, exit %d", cmd, rep, err, cmd, jobs.ExitLeaseHeld)
		}
	}

	// --wait: the daemon releases after a moment and merge runs (nothing
	// ingested yet: nothing to merge, exit 0).
	go func() {
		time.Sleep(500 * time.Millisecond)
		if err := le.Release(ctx); err != nil {
			t.Error(err)
		}
	}()
	code, _, stderr := run(t, "merge", "--config", cfgPath, "--wait", "1m")
	if code != jobs.ExitOK {
		t.Errorf("merge --wait: exit %d, want 0 once the lease is released\nstderr: %s", code, stderr)
	}
	if !strings.Contains(stderr, "waiting for a lease") {
		t.Errorf("merge --wait: stderr %q does not say it waits", stderr)
	}
	// The lease is released after the run: the daemon takes it at once.
	le, err = daemon.Acquire(ctx, "merge")
	if err != nil {
		t.Fatalf("merge's lease after the one-shot run: %v", err)
	}
	le.Release(ctx)
}

// The converse of TestHelpMentionsEveryFlag: every flag a command defines
// is in its usage line, so the one-line synopsis is complete.
func TestUsageLineListsEveryFlag(t *testing.T) {
	for name, c := range commands {
		_, out, _ := run(t, name, "--help")
		if n := strings.Count(out, "Usage: sluice "); n != 1 {
			t.Errorf("%s --help printed its usage %d times, want once", name, n)
		}
		_, flags, ok := strings.Cut(out, "\nFlags:\n")
		if !ok {
			continue // a command without flags
		}
		for _, line := range strings.Split(flags, "\n") {
			f, ok := strings.CutPrefix(line, "  -")
			if !ok {
				continue
			}
			f, _, _ = strings.Cut(f, " ")
			f, _, _ = strings.Cut(f, "\t")
			if !strings.Contains(" "+c.usage, "--"+f) {
				t.Errorf("%s: flag --%s is not in the usage line %q", name, f, c.usage)
			}
		}
	}
}
