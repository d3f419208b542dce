package jobs

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScheduleConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
warehouse: /tmp/lake
schedule:
  jobs:
    - {name: run, cron: "*/5 * * * *", timeout: 10m}
    - {name: compact, cron: "@every 6h"}
`), lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule
	if s.Listen != ":9108" || s.LeaseTTL != time.Minute || s.ShutdownGrace != 30*time.Second || s.UnhealthyAfter != 3 {
		t.Errorf("defaults = %+v", s)
	}
	if len(s.Jobs) != 2 || s.Jobs[0].Timeout != 10*time.Minute || s.Jobs[1].Timeout != time.Hour {
		t.Errorf("jobs = %+v, want run with 10m and compact with the 1h default", s.Jobs)
	}
	jobs, err := scheduledJobs(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// robfig/cron computes the activations; "*/5" fires on minutes that are
	// multiples of five.
	from := time.Date(2026, 3, 1, 10, 2, 30, 0, time.Local)
	if got, want := jobs[0].Schedule.Next(from), time.Date(2026, 3, 1, 10, 5, 0, 0, time.Local); !got.Equal(want) {
		t.Errorf("run next after %v = %v, want %v", from, got, want)
	}
	if got := jobs[0].Leases; len(got) != 2 || got[0] != "ingest" || got[1] != "merge" {
		t.Errorf("run's leases = %v, want [ingest merge]", got)
	}
}

func TestScheduleConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		yaml, field, msg string
	}{
		{`{jobs: [{name: ingestt, cron: "@hourly"}]}`, "schedule.jobs[0].name", `unknown job "ingestt"`},
		{`{jobs: [{name: merge, cron: "@hourly"}, {name: merge, cron: "@daily"}]}`, "schedule.jobs[1].name", "scheduled twice"},
		{`{jobs: [{name: merge}]}`, "schedule.jobs[0].cron", "required"},
		{`{jobs: [{name: merge, cron: "*/5 * * *"}]}`, "schedule.jobs[0].cron", `invalid cron expression "*/5 * * *"`},
		{`{jobs: [{name: merge, cron: "61 * * * *"}]}`, "schedule.jobs[0].cron", "invalid cron expression"},
		{`{jobs: [{name: merge, cron: "@every banana"}]}`, "schedule.jobs[0].cron", "invalid cron expression"},
		{`{jobs: [{name: merge, cron: "@hourly", timeout: -1s}]}`, "schedule.jobs[0].timeout", "negative"},
		{`{listen: "9108"}`, "schedule.listen", "not host:port"},
		{`{lease_ttl: 1s}`, "schedule.lease_ttl", "at least 4s"},
		{`{unhealthy_after: -1}`, "schedule.unhealthy_after", "negative"},
	} {
		_, err := ParseConfig([]byte("warehouse: /x\nschedule: "+tc.yaml+"\n"), lookupFrom(nil))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("schedule: %s\n  err = %v\n  want field %s with %q", tc.yaml, err, tc.field, tc.msg)
		}
	}
}

// examples/sluice.yaml's schedule section parses and means what its
// comments say.
func TestExampleConfigSchedule(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data, lookupFrom(map[string]string{"KAFKA_PASSWORD": "kp", "SHOP_PG_DSN": "postgres://db/shop"}))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule
	if len(s.Jobs) != 2 || s.Jobs[0].Name != "run" || s.Jobs[0].Cron != "*/5 * * * *" || s.Jobs[1].Name != "compact" || s.Listen != ":9108" {
		t.Errorf("example schedule = %+v", s)
	}
}
