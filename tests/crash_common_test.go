package tests

// Shared parts of the kill -9 tests (crash_*_test.go): the crashrunner
// binary, seeded randomness, and a crashChild process that can be SIGKILLed.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	runnerOnce sync.Once
	runnerPath string
	runnerErr  error
)

// crashRunner builds tests/cmd/crashrunner once per test binary and
// returns the executable's path.
func crashRunner(t testing.TB) string {
	t.Helper()
	runnerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crashrunner")
		if err != nil {
			runnerErr = err
			return
		}
		runnerPath = filepath.Join(dir, "crashrunner")
		cmd := exec.Command("go", "build", "-o", runnerPath, "./cmd/crashrunner")
		if out, err := cmd.CombinedOutput(); err != nil {
			runnerErr = fmt.Errorf("build crashrunner: %v\n%s", err, out)
		}
	})
	if runnerErr != nil {
		t.Fatal(runnerErr)
	}
	return runnerPath
}

// crashSeed returns the seed of a test's randomness: SLUICE_CRASH_SEED when
// set (to replay a failure), else a fresh one. The seed is printed when the
// test fails.
func crashSeed(t testing.TB) (uint64, *rand.Rand) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SLUICE_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with SLUICE_CRASH_SEED=%d", seed)
		}
	})
	return seed, rand.New(rand.NewPCG(seed, seed^0x5eed))
}

// crashChild is one crashrunner process.
type crashChild struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error // of Wait, valid after done
}

// startCrashChild starts the crashrunner with args; env entries are added to the
// test's environment (secrets travel this way, never in argv).
func startCrashChild(t testing.TB, bin string, env []string, args ...string) *crashChild {
	t.Helper()
	c := &crashChild{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start crashrunner %s: %v", args[0], err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { c.kill() })
	return c
}

// kill SIGKILLs the process and waits for it. It reports whether the
// process was still running (the kill landed) rather than already gone.
func (c *crashChild) kill() bool {
	select {
	case <-c.done:
		return false
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// exited reports whether the process has ended by itself.
func (c *crashChild) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to end and returns its Wait error.
func (c *crashChild) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(d):
		c.kill()
		t.Fatalf("crashrunner %s still running after %v; stderr:\n%s", c.cmd.Args[1], d, c.stderr.String())
		return nil
	}
}

// tail returns the last lines of the crashChild's stderr, for failure messages.
func (c *crashChild) tail() string {
	s := c.stderr.String()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// crashCreateTopics creates topics with the given partition count on the
// harness broker.
func crashCreateTopics(t testing.TB, brokers []string, partitions int32, topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			t.Fatalf("create topic %s: %v", r.Topic, r.Err)
		}
	}
}

// crashProduce writes records synchronously with a manual partitioner and
// returns them with their offsets filled in.
func crashProduce(t testing.TB, brokers []string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}
