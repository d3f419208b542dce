package s3blob

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// retryables is the SDK's own classification of transient errors (5xx,
// throttling, connection resets, timeouts); the one place this package
// decides what may succeed on retry.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

func isRetryable(err error) bool {
	return retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// statusCode returns the HTTP status of a failed request, or 0.
func statusCode(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode returns the S3 error code ("NoSuchKey"), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wrap turns an SDK error into the package's error for op on key: missing
// objects wrap blob.ErrNotExist, refused conditional writes blob.ErrExist,
// transient failures satisfy blob.IsTransient, and secrets are redacted.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %q: %w", op, key, s.classify(err))
}

func (s *Store) classify(err error) error {
	var sentinel error
	code := errorCode(err)
	switch status := statusCode(err); {
	case code == "NoSuchKey", status == 404 && code != "NoSuchBucket":
		sentinel = blob.ErrNotExist
	case status == 412:
		sentinel = blob.ErrExist
	}
	out := &s3Error{err: err, sentinel: sentinel, transient: isRetryable(err)}
	out.msg = s.redact(err.Error())
	if sentinel != nil {
		out.msg = sentinel.Error() + ": " + out.msg
	}
	return out
}

// redact removes the configured secrets from an error text.
func (s *Store) redact(msg string) string {
	for _, secret := range s.secrets {
		msg = strings.ReplaceAll(msg, secret, "[REDACTED]")
	}
	return msg
}

// s3Error carries an SDK error with a redacted message. It unwraps to the
// matching blob sentinel and to the SDK error, so callers can branch with
// errors.Is and inspect with errors.As.
type s3Error struct {
	msg       string
	err       error
	sentinel  error
	transient bool
}

func (e *s3Error) Error() string { return e.msg }

func (e *s3Error) Unwrap() []error {
	if e.sentinel != nil {
		return []error{e.sentinel, e.err}
	}
	return []error{e.err}
}

// Transient reports whether the failure may succeed on retry (blob.IsTransient).
func (e *s3Error) Transient() bool { return e.transient }
