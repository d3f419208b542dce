//go:build !unix

package datafile

import "os"

// mapFile is not available here: the caller reads the file instead.
func mapFile(f *os.File, n int64) (data []byte, unmap func(), ok bool) {
	return nil, nil, false
}
