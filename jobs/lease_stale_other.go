//go:build !unix

package jobs

// holderGone cannot tell here whether a holder's process is gone: its
// lease expires after TTL.
func holderGone(string) bool { return false }
