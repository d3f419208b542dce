package jobs

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/capture"
)

// SourceName returns the name of the source `capture --source name` would
// run: name itself when the config has it, or the only source's name.
func SourceName(cfg *Config, name string) (string, error) {
	src, err := pickSource(cfg, name)
	if err != nil {
		return "", err
	}
	return src.Name, nil
}

// ObserveCapture exports s, the stats of the capture of source, as
// sluice_capture_* series (docs/metrics.md). The values are read from s at
// scrape time, so they are as fresh as the last Kafka commit.
func (m *Metrics) ObserveCapture(source string, s *capture.Stats) {
	labels := prometheus.Labels{"source": source}
	counter := func(name, help string, v func() float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, v))
	}
	gauge := func(name, help string, v func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, v))
	}
	counter("sluice_capture_events_total", "Change events committed to Kafka.",
		func() float64 { return float64(s.Events.Load()) })
	counter("sluice_capture_source_transactions_total", "Source transactions committed to Kafka.",
		func() float64 { return float64(s.SourceTransactions.Load()) })
	counter("sluice_capture_kafka_transactions_total", "Kafka transactions committed (each holds one or more source transactions and the position after them).",
		func() float64 { return float64(s.KafkaTransactions.Load()) })
	counter("sluice_capture_partial_batches_total", "Parts of large source transactions produced before their last part.",
		func() float64 { return float64(s.PartialBatches.Load()) })
	counter("sluice_capture_restarts_total", "Restarts of the capture after a failure.",
		func() float64 { return float64(s.Restarts.Load()) })
	gauge("sluice_capture_last_source_commit_timestamp_seconds", "Source commit time (Unix) of the newest change committed to Kafka; 0 before the first.",
		func() float64 { return float64(s.LastCommitUnixMs.Load()) / 1000 })
	gauge("sluice_capture_last_kafka_commit_timestamp_seconds", "Unix time of the last Kafka commit; 0 before the first.",
		func() float64 { return float64(s.LastKafkaCommitUnixMs.Load()) / 1000 })
	gauge("sluice_capture_source_retained_bytes", "What the source retains for this capture and has not been acknowledged (PostgreSQL: WAL bytes the slot holds back), refreshed every 15 s; -1 when the source cannot tell (MySQL/MariaDB).",
		func() float64 { return float64(s.SourceLagBytes.Load()) })
}
