//go:build unix

package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
)

// TestLeaseOfKilledProcessIsTakenOver: a run killed with SIGKILL leaves
// its lease until the TTL; a rerun on the same host takes it over at once
// when the holder's process is gone, and not while it lives.
func TestLeaseOfKilledProcessIsTakenOver(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Process.Kill(); _ = live.Wait() }()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	store, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		holder   string
		takeOver bool
	}{
		{fmt.Sprintf("%s/%d/aaaa", host, dead.Process.Pid), true},
		{fmt.Sprintf("%s/%d/bbbb", host, live.Process.Pid), false},
		{fmt.Sprintf("other-host-%s/%d/cccc", host, dead.Process.Pid), false},
		{fmt.Sprintf("%s/%d/dddd", host, os.Getpid()), false}, // our pid: a previous process or us; no way to tell
		{"no-pid-here", false},
	} {
		name := "merge-" + c.holder[len(c.holder)-4:]
		crashed := NewLeases(store, LeaseOptions{TTL: time.Hour, Holder: c.holder})
		if _, err := crashed.Acquire(ctx, name); err != nil {
			t.Fatal(err)
		}
		rerun := NewLeases(store, LeaseOptions{TTL: time.Hour})
		_, err := rerun.Acquire(ctx, name)
		if c.takeOver && err != nil {
			t.Errorf("holder %s: rerun got %v, want the lease taken over", c.holder, err)
		}
		if !c.takeOver && !errors.Is(err, ErrLeaseHeld) {
			t.Errorf("holder %s: rerun got %v, want ErrLeaseHeld", c.holder, err)
		}
	}
}
