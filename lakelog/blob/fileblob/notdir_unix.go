//go:build unix

package fileblob

import "syscall"

// errNotDir is the error for a path whose directory part names a file.
var errNotDir error = syscall.ENOTDIR
