package tests

// Logs of the in-process pipeline: discarded while a test passes, but the
// last lines are kept and printed when it fails, so that a failure seen
// once in CI (a capture stuck behind a Kafka fault, say) shows what the
// parts were doing. SLUICE_E2E_DEBUG=1 with -v streams everything instead.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// e2eLogKeep is how many of the last log records a failing test prints.
const e2eLogKeep = 300

// logRing keeps the last records of one test.
type logRing struct {
	mu    sync.Mutex
	lines []string
	next  int
	total int
}

func (r *logRing) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if len(r.lines) < e2eLogKeep {
		r.lines = append(r.lines, line)
		return
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % e2eLogKeep
}

func (r *logRing) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "last %d of %d log records:\n", len(r.lines), r.total)
	for i := range r.lines {
		b.WriteString("  ")
		b.WriteString(r.lines[(r.next+i)%len(r.lines)])
		b.WriteByte('\n')
	}
	return b.String()
}

// ringHandler is a slog.Handler writing text records into a logRing.
type ringHandler struct {
	ring   *logRing
	attrs  []slog.Attr
	groups string
}

func (h *ringHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *ringHandler) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", rec.Time.Format("15:04:05.000"), rec.Level, rec.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s%s=%v", h.groups, a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	rec.Attrs(write)
	h.ring.add(b.String())
	return nil
}

func (h *ringHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ringHandler{ring: h.ring, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...), groups: h.groups}
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	return &ringHandler{ring: h.ring, attrs: h.attrs, groups: h.groups + name + "."}
}

var e2eRings sync.Map // testing.TB → *logRing

// e2eLogger returns the logger the pipeline's parts log to in test t: all
// of t's loggers share one ring, printed if t fails.
func e2eLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("SLUICE_E2E_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ring := &logRing{}
	if got, loaded := e2eRings.LoadOrStore(t, ring); loaded {
		ring = got.(*logRing)
	} else {
		t.Cleanup(func() {
			e2eRings.Delete(t)
			if t.Failed() {
				t.Logf("pipeline log at %s, %s", time.Now().Format("15:04:05.000"), ring.dump())
			}
		})
	}
	return slog.New(&ringHandler{ring: ring})
}

// pipelineStacks returns the stacks of the goroutines running sluice's
// parts (not the test's own), to show where a stuck pipeline waits.
func pipelineStacks() string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var keep []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "sluice/capture") || strings.Contains(g, "sluice/ingest") || strings.Contains(g, "go-mysql") {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}
