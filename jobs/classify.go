package jobs

import (
	"errors"
	"net"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/schemas"
)

// Classify is the Classifier for the errors of sluice's parts (see the exit
// code table in exitcode.go and docs/operations.md). The order matters: an
// error that needs an operator stays ExitNeedsAction even when it wraps a
// network error.
func Classify(err error) (int, bool) {
	var (
		offsetReset  *ingest.OffsetResetError
		unsupported  *lakelog.UnsupportedFeatureError
		incompatible *schemas.IncompatibleChangeError
		attempts     *lakelog.AttemptsError
		netErr       net.Error
		kafkaErr     *kerr.Error
	)
	switch {
	case errors.Is(err, ErrLeaseHeld):
		return ExitLeaseHeld, true
	case errors.Is(err, ingest.ErrDeadLetterRatio):
		return ExitDataQuality, true
	case errors.As(err, &offsetReset),
		errors.Is(err, capture.ErrPositionLost),
		errors.As(err, &unsupported),
		errors.As(err, &incompatible):
		return ExitNeedsAction, true
	case errors.Is(err, lakelog.ErrNoTable):
		return ExitUsage, true
	case errors.Is(err, lakelog.ErrConflict),
		errors.Is(err, ErrLeaseLost),
		errors.Is(err, lakelog.ErrCommitAttempts),
		errors.As(err, &attempts),
		blob.IsTransient(err),
		errors.As(err, &netErr),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.As(err, &kafkaErr) && kafkaErr.Retriable:
		return ExitRetryable, true
	}
	return 0, false
}
