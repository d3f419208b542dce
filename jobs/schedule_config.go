package jobs

import (
	"fmt"
	"net"
	"time"

	"github.com/robfig/cron/v3"
)

// ScheduleConfig configures `sluice schedule` (schedule: in sluice.yaml).
// Documented in docs/config.md.
type ScheduleConfig struct {
	// Jobs are the jobs the daemon runs and when.
	Jobs []ScheduleJobConfig `yaml:"jobs"`
	// Listen is the address of the /metrics and /healthz server.
	// Default ":9108".
	Listen string `yaml:"listen"`
	// LeaseTTL is how long a job's lease in the lake lives without renewal:
	// a crashed daemon's job is taken over this long after its last renewal.
	// The holder renews every TTL/3 and stops work at 3/4 TTL when it could
	// not renew (see lease.go). Default 1m.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// ShutdownGrace is how long SIGTERM waits for running jobs to finish
	// before cancelling them. Default 30s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// UnhealthyAfter is how many consecutive failed runs of one job turn
	// /healthz to 503. Default 3.
	UnhealthyAfter int `yaml:"unhealthy_after"`
}

// ScheduleJobConfig is one entry of schedule.jobs.
type ScheduleJobConfig struct {
	// Name is the job: ingest, merge, run (ingest then merge) or compact.
	Name string `yaml:"name"`
	// Cron is a standard 5-field cron expression ("*/5 * * * *") or a
	// descriptor (@hourly, @every 1m), in the daemon's local time unless
	// prefixed with CRON_TZ=Area/City.
	Cron string `yaml:"cron"`
	// Timeout cancels a run that takes longer. Default 1h.
	Timeout time.Duration `yaml:"timeout"`
}

// scheduleJobNames are the jobs `sluice schedule` knows, in the order the
// docs list them.
var scheduleJobNames = []string{"ingest", "merge", "run", "compact"}

const (
	defaultScheduleListen   = ":9108"
	defaultLeaseTTL         = time.Minute
	defaultShutdownGrace    = 30 * time.Second
	defaultUnhealthyAfter   = 3
	defaultScheduledTimeout = time.Hour
	// minLeaseTTL keeps renewals (every TTL/3) from hammering the store
	// and leaves the TTL/4 safety margin meaningful.
	minLeaseTTL = 4 * time.Second
)

func (s *ScheduleConfig) applyDefaults() {
	if s.Listen == "" {
		s.Listen = defaultScheduleListen
	}
	if s.LeaseTTL == 0 {
		s.LeaseTTL = defaultLeaseTTL
	}
	if s.ShutdownGrace == 0 {
		s.ShutdownGrace = defaultShutdownGrace
	}
	if s.UnhealthyAfter == 0 {
		s.UnhealthyAfter = defaultUnhealthyAfter
	}
	for i := range s.Jobs {
		if s.Jobs[i].Timeout == 0 {
			s.Jobs[i].Timeout = defaultScheduledTimeout
		}
	}
}

// validate returns the first problem as a *FieldError naming the field.
func (s *ScheduleConfig) validate() error {
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		return &FieldError{"schedule.listen", fmt.Sprintf("%q is not host:port or :port", s.Listen)}
	}
	if s.LeaseTTL < minLeaseTTL {
		return &FieldError{"schedule.lease_ttl", fmt.Sprintf("must be at least %v, got %v", minLeaseTTL, s.LeaseTTL)}
	}
	if s.ShutdownGrace < 0 {
		return &FieldError{"schedule.shutdown_grace", "must not be negative"}
	}
	if s.UnhealthyAfter < 0 {
		return &FieldError{"schedule.unhealthy_after", "must not be negative"}
	}
	seen := map[string]bool{}
	for i, j := range s.Jobs {
		f := fmt.Sprintf("schedule.jobs[%d]", i)
		if !isScheduleJob(j.Name) {
			return &FieldError{f + ".name", fmt.Sprintf("unknown job %q: want ingest, merge, run or compact", j.Name)}
		}
		if seen[j.Name] {
			// Two entries would share one lease and skip each other's ticks.
			return &FieldError{f + ".name", fmt.Sprintf("job %q is scheduled twice; give it one cron expression", j.Name)}
		}
		seen[j.Name] = true
		if j.Cron == "" {
			return &FieldError{f + ".cron", `required: a cron expression such as "*/5 * * * *" or "@every 10m"`}
		}
		if _, err := cron.ParseStandard(j.Cron); err != nil {
			return &FieldError{f + ".cron", fmt.Sprintf("invalid cron expression %q: %v", j.Cron, err)}
		}
		if j.Timeout < 0 {
			return &FieldError{f + ".timeout", "must not be negative"}
		}
	}
	return nil
}

func isScheduleJob(name string) bool {
	for _, n := range scheduleJobNames {
		if n == name {
			return true
		}
	}
	return false
}
