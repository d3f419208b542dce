package blob

import "errors"

// IsTransient reports whether err, or an error it wraps, says it is
// transient (a method Transient() bool returning true): the operation may
// succeed if retried, like an HTTP 503. A transient error from Put or
// PutIfAbsent is ambiguous: the object may or may not have been written, so
// a committer must re-read the key before deciding it lost or won.
func IsTransient(err error) bool {
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}
