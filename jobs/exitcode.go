package jobs

import (
	"context"
	"errors"
)

// Exit codes of every sluice command, stable for cron and Airflow. They are
// documented in docs/operations.md; keep the two in step.
const (
	// ExitOK: the job finished; everything it was asked to do is done.
	ExitOK = 0
	// ExitFailed: an unexpected error. Retrying is safe but may not help.
	ExitFailed = 1
	// ExitUsage: bad flags or an invalid configuration. Do not retry; fix
	// the command or the config.
	ExitUsage = 2
	// ExitRetryable: a transient failure (store or broker unreachable, lost
	// commit races, timeouts). Retry with backoff.
	ExitRetryable = 3
	// ExitDataQuality: the job ran but too many records were unreadable
	// (dead-letter ratio exceeded). Committed work is kept; a human should
	// look at the dead-letter table.
	ExitDataQuality = 4
	// ExitNeedsAction: the job cannot go on without an operator: the table
	// uses unsupported Delta features, the source position is lost (run a
	// backfill), an incompatible schema change.
	ExitNeedsAction = 5
	// ExitLeaseHeld: nothing was done because another run of the same job
	// holds its lease in the lake (a `sluice schedule` daemon, an earlier
	// cron tick still running). Normal when runs overlap; the next tick
	// runs. Wait for it with --wait.
	ExitLeaseHeld = 6
)

// usageError marks errors caused by the command line or configuration.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// UsageError wraps err so that ExitCode classifies it as ExitUsage.
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err: err}
}

// Classifier lets packages that own an error type say how it should exit
// without jobs importing every error type twice.
type Classifier func(error) (code int, ok bool)

// ExitCode maps an error returned by a job to an exit code. classifiers are
// consulted in order before the generic rules.
func ExitCode(err error, classifiers ...Classifier) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	for _, c := range classifiers {
		if code, ok := c(err); ok {
			return code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ExitRetryable
	}
	return ExitFailed
}
