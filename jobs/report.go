package jobs

import (
	"encoding/json"
	"io"
	"time"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/merge"
)

// Report is the JSON run report every job ends with (`--report FILE|-`).
// It is documented field by field in docs/operations.md. A failed job still
// reports what it committed before the failure.
type Report struct {
	Job       string          `json:"job"` // ingest, merge, run, compact
	StartedAt time.Time       `json:"started_at"`
	Duration  ingest.Duration `json:"duration"` // seconds
	OK        bool            `json:"ok"`
	ExitCode  int             `json:"exit_code"`
	Error     string          `json:"error,omitempty"`

	Plan    *ingest.ReadPlan      `json:"plan,omitempty"` // ingest --plan
	Ingest  *ingest.Report        `json:"ingest,omitempty"`
	Merge   *MergeReport          `json:"merge,omitempty"`
	Compact *ingest.CompactReport `json:"compact,omitempty"`
}

// MergeReport is merge.Report with each table's error as a string (an error
// value does not marshal to JSON).
type MergeReport struct {
	*merge.Report
	Tables []MergeTableReport `json:"Tables"`
	// HeldBack are the tables this run left unmerged: snapshot in progress.
	HeldBack []HeldTable `json:"held_back,omitempty"`
}

// MergeTableReport is merge.TableReport with Err as text.
type MergeTableReport struct {
	merge.TableReport
	Err string `json:"Err,omitempty"`
}

func newMergeReport(r *merge.Report) *MergeReport {
	if r == nil {
		return nil
	}
	mr := &MergeReport{Report: r, Tables: make([]MergeTableReport, 0, len(r.Tables))}
	for _, t := range r.Tables {
		tr := MergeTableReport{TableReport: t}
		if t.Err != nil {
			tr.Err = t.Err.Error()
		}
		mr.Tables = append(mr.Tables, tr)
	}
	return mr
}

// finish fills in the outcome of the job from its error. secrets are masked
// in the error text.
func (r *Report) finish(err error, secrets []string) {
	r.Duration = ingest.Duration(time.Since(r.StartedAt))
	r.ExitCode = ExitCode(err, Classify)
	r.OK = err == nil
	if err != nil {
		r.Error = RedactError(err, secrets).Error()
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
