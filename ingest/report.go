package ingest

import (
	"encoding/json"
	"slices"
	"time"
)

// Report describes one Run; it marshals to JSON for run logs and the jobs
// layer. It is filled in as the run goes, so a failed run returns a report
// of what it did commit.
type Report struct {
	// BatchID is the run's id; microbatch n writes batch_id "<BatchID>-<n>".
	BatchID  string    `json:"batch_id"`
	Started  time.Time `json:"started"`
	Duration Duration  `json:"duration"`
	// Commits lists the raw table versions this run committed, in order;
	// CommitVersion is the last one, or -1 when nothing was committed.
	Commits       []int64 `json:"commits"`
	CommitVersion int64   `json:"commit_version"`
	// DeadLetterCommits lists the dead-letter table versions committed.
	DeadLetterCommits []int64 `json:"dead_letter_commits,omitempty"`

	Records     int64 `json:"records"`      // rows committed to the raw table
	Bytes       int64 `json:"bytes"`        // key+value bytes of those rows
	DeadLetters int64 `json:"dead_letters"` // records committed to the dead-letter table
	// Lag is, after the run, the offsets between the raw table's txn
	// versions and the partitions' ends (summed over this worker's
	// partitions); -1 when it could not be measured.
	Lag int64 `json:"lag"`
	// Replans counts re-plans after losing a commit race on a partition.
	Replans int `json:"replans"`

	Topics          map[string]*TopicReport `json:"topics"`
	Files           []FileReport            `json:"files"`
	DeadLetterFiles []FileReport            `json:"dead_letter_files,omitempty"`
	Stages          Stages                  `json:"stages"`
}

// TopicReport is one topic's part of a Report.
type TopicReport struct {
	Records     int64             `json:"records"`
	Bytes       int64             `json:"bytes"`
	DeadLetters int64             `json:"dead_letters"`
	Partitions  []PartitionReport `json:"partitions"`
}

// PartitionReport is one partition's part of a Report.
type PartitionReport struct {
	Partition int32 `json:"partition"`
	// Start and End are the planned offsets [Start, End) of the first plan.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// Committed is the partition's txn version after the run (-1: none).
	Committed int64 `json:"committed"`
	Reset     bool  `json:"reset,omitempty"`
	// Lag is the partition's end after the run minus Committed+1.
	Lag int64 `json:"lag"`
}

// FileReport is one data file written and committed.
type FileReport struct {
	Path  string `json:"path"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// Stages is the wall time spent per stage of a run.
type Stages struct {
	Plan   Duration `json:"plan"`
	Fetch  Duration `json:"fetch"`  // waiting for Kafka fetches
	Parse  Duration `json:"parse"`  // envelope header extraction and buffering
	Write  Duration `json:"write"`  // Parquet encoding and upload
	Commit Duration `json:"commit"` // Delta commits and group offset commits
}

// Duration marshals as seconds (a JSON number).
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

func newReport(batchID string, started time.Time) *Report {
	return &Report{BatchID: batchID, Started: started, CommitVersion: -1, Lag: -1, Topics: map[string]*TopicReport{}}
}

func (r *Report) topic(name string) *TopicReport {
	t := r.Topics[name]
	if t == nil {
		t = &TopicReport{}
		r.Topics[name] = t
	}
	return t
}

func (r *Report) partition(topic string, part int32) *PartitionReport {
	t := r.topic(topic)
	for i := range t.Partitions {
		if t.Partitions[i].Partition == part {
			return &t.Partitions[i]
		}
	}
	t.Partitions = append(t.Partitions, PartitionReport{Partition: part, Committed: -1, Lag: -1})
	slices.SortFunc(t.Partitions, func(a, b PartitionReport) int { return int(a.Partition) - int(b.Partition) })
	for i := range t.Partitions {
		if t.Partitions[i].Partition == part {
			return &t.Partitions[i]
		}
	}
	return nil // unreachable
}
