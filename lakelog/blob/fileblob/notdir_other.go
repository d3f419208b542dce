//go:build !unix

package fileblob

import "errors"

// errNotDir never matches on systems without ENOTDIR.
var errNotDir = errors.New("not a directory")
