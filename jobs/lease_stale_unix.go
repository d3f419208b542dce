//go:build unix

package jobs

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// holderGone reports whether a lease holder named by defaultHolder
// ("host/pid/random") ran on this host and its process no longer exists, so
// its lease can be taken over before it expires: a run killed with
// SIGKILL (OOM, a kill -9, a crashed node's cron rerun) must not block the
// rerun for a whole TTL. Only a definite "no such process" counts; our own
// pid (a previous process that had it) and any doubt do not.
//
// Leases only avoid wasted work (ingest, merge and snapshot are safe under
// concurrency), so the rare wrong answer — two containers that share a
// hostname but not a pid namespace — costs a duplicate run, not data.
func holderGone(holder string) bool {
	host, rest, ok := strings.Cut(holder, "/")
	if !ok {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "/")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	if me, err := os.Hostname(); err != nil || me != host {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
