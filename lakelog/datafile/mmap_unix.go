//go:build unix

package datafile

import (
	"os"
	"syscall"
)

// mapFile maps the first n bytes of f read-only. ok is false when the OS
// refuses (the caller reads the file instead).
func mapFile(f *os.File, n int64) (data []byte, unmap func(), ok bool) {
	if n != int64(int(n)) {
		return nil, nil, false
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, false
	}
	return data, func() { _ = syscall.Munmap(data) }, true
}
