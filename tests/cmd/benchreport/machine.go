package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU       string // model name from /proc/cpuinfo
	CPUs      int    // logical CPUs this process may use
	MemGiB    float64
	GoVersion string // of the go command that ran the benchmarks
	OS        string // distribution, kernel, GOOS/GOARCH
}

// DescribeMachine reads /proc and asks the go command for its version; a
// field it cannot read says "unknown" rather than failing the report.
func DescribeMachine(ctx context.Context) Machine {
	m := Machine{CPU: "unknown", CPUs: runtime.NumCPU(), GoVersion: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64); err == nil {
			m.MemGiB = kb / (1 << 20)
		}
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	dist := "unknown distribution"
	if v := procField("/etc/os-release", "PRETTY_NAME"); v != "" {
		dist = strings.Trim(v, `"`)
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	m.OS = fmt.Sprintf("%s, %s, %s/%s", dist, kernel, runtime.GOOS, runtime.GOARCH)
	return m
}

// LoadAverage is /proc/loadavg's first three fields, or "unknown".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// procField returns the value of the first "key: value" or "key=value" line
// of a /proc-style file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			k, v, ok = strings.Cut(sc.Text(), "=")
		}
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
