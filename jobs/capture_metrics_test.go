package jobs

import (
	"testing"

	"github.com/sluicehq/sluice/capture"
)

func TestObserveCaptureExportsStats(t *testing.T) {
	m := NewMetrics()
	s := &capture.Stats{}
	m.ObserveCapture("pg1", s)
	s.Events.Add(37)
	s.SourceTransactions.Add(3)
	s.LastCommitUnixMs.Store(1_700_000_000_500)
	s.SourceLagBytes.Store(4096)

	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"sluice_capture_events_total":                         37,
		"sluice_capture_source_transactions_total":            3,
		"sluice_capture_kafka_transactions_total":             0,
		"sluice_capture_last_source_commit_timestamp_seconds": 1_700_000_000.5,
		"sluice_capture_source_retained_bytes":                4096,
	}
	for _, f := range fams {
		w, ok := want[f.GetName()]
		if !ok {
			continue
		}
		delete(want, f.GetName())
		ms := f.GetMetric()
		if len(ms) != 1 || len(ms[0].GetLabel()) != 1 || ms[0].GetLabel()[0].GetValue() != "pg1" {
			t.Errorf("%s: metrics %v, want one labelled source=pg1", f.GetName(), ms)
			continue
		}
		got := ms[0].GetCounter().GetValue() + ms[0].GetGauge().GetValue()
		if got != w {
			t.Errorf("%s = %v, want %v", f.GetName(), got, w)
		}
	}
	for name := range want {
		t.Errorf("%s not exported", name)
	}
}
