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
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
)

// leaseTestLake writes a config naming a fresh local warehouse and
// returns its path and the warehouse's store.
func leaseTestLake(t *testing.T) (string, *fileblob.Store) {
	t.Helper()
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
	return cfgPath, store
}

// One-shot commands take the same lake lease as `sluice schedule`: while a
// daemon (here: a lease taken the way it takes them) runs merge, `sluice
// merge` and `sluice run` do nothing and exit 6 naming the holder, compact
// runs, and --wait waits for the release.
func TestOneShotCommandsTakeTheLease(t *testing.T) {
	ctx := context.Background()
	cfgPath, store := leaseTestLake(t)
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

// Snapshot and backfill hold one lease per snapshot id: while a run of
// "initial" holds it, another run of that id (snapshot or backfill) exits 6
// with a report; a run of another id is not held back by it.
func TestSnapshotCommandsTakeTheSnapshotIDLease(t *testing.T) {
	ctx := context.Background()
	cfgPath, store := leaseTestLake(t)
	other := jobs.NewLeases(store, jobs.LeaseOptions{Holder: "snapshot-elsewhere-3"})
	le, err := other.Acquire(ctx, "snapshot-initial")
	if err != nil {
		t.Fatal(err)
	}
	defer le.Release(ctx)

	for _, args := range [][]string{
		{"snapshot", "--config", cfgPath, "--progress", "none"},
		{"backfill", "--config", cfgPath, "--table", "db.t", "--snapshot-id", "initial", "--progress", "none"},
	} {
		code, stdout, stderr := run(t, args...)
		if code != jobs.ExitLeaseHeld {
			t.Errorf("%v while snapshot-initial is held: exit %d, want %d\nstderr: %s", args, code, jobs.ExitLeaseHeld, stderr)
		}
		if !strings.Contains(stderr, "snapshot-elsewhere-3") || !strings.Contains(stderr, "lease snapshot-initial") {
			t.Errorf("%v: stderr %q does not name the lease and its holder", args, stderr)
		}
		var rep struct {
			Job      string `json:"job"`
			OK       bool   `json:"ok"`
			ExitCode int    `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Job != args[0] || rep.OK || rep.ExitCode != jobs.ExitLeaseHeld {
			t.Errorf("%v: report %+v (%v), want job %s, exit %d", args, rep, err, args[0], jobs.ExitLeaseHeld)
		}
	}
	// Another id takes its own lease: it runs (and fails, no sources are
	// configured), never exit 6.
	code, _, stderr := run(t, "snapshot", "--config", cfgPath, "--snapshot-id", "second", "--progress", "none")
	if code == jobs.ExitLeaseHeld || strings.Contains(stderr, "snapshot-elsewhere-3") {
		t.Errorf("snapshot --snapshot-id second: exit %d, held back by another id's lease\nstderr: %s", code, stderr)
	}
}

// vacuum --execute holds the "vacuum" lease in the table; a dry run takes
// none.
func TestVacuumTakesTheLease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	schema := &lakelog.StructType{Fields: []*lakelog.StructField{{Name: "id", Type: lakelog.TypeLong}}}
	if _, err := lakelog.Open(store, lakelog.Options{}).Create(ctx, lakelog.Metadata{SchemaString: schema.String()}, lakelog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	le, err := jobs.NewLeases(store, jobs.LeaseOptions{Holder: "vacuum-elsewhere-9"}).Acquire(ctx, "vacuum")
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "vacuum", dir, "--execute")
	if code != jobs.ExitLeaseHeld || !strings.Contains(stderr, "vacuum-elsewhere-9") {
		t.Errorf("vacuum --execute while the lease is held: exit %d, want %d naming the holder\nstderr: %s", code, jobs.ExitLeaseHeld, stderr)
	}
	if code, _, stderr := run(t, "vacuum", dir); code != jobs.ExitOK {
		t.Errorf("dry run while the lease is held: exit %d, want 0\nstderr: %s", code, stderr)
	}
	if err := le.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "vacuum", dir, "--execute"); code != jobs.ExitOK {
		t.Errorf("vacuum --execute after the release: exit %d, want 0\nstderr: %s", code, stderr)
	}
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
