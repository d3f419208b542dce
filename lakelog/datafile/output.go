package datafile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// output is where a Writer's encoded bytes go: memory, or an unlinked
// temporary file (Options.TempDir) so that the file being built does not
// stay in memory, and is not copied each time a growing buffer doubles.
type output struct {
	mem  bytes.Buffer
	file *os.File
	// name is the temporary file's path while it is still linked (when the
	// OS refused to remove an open file); "" once unlinked.
	name string
	n    int64 // bytes written so far
	err  error // the first write error; the file is unusable after it
}

// spillTo makes the output a new temporary file in dir. The file is
// unlinked at once, so a crashed or abandoned Writer leaves nothing behind
// (the descriptor closes with the *os.File).
func (o *output) spillTo(dir string) error {
	f, err := os.CreateTemp(dir, "sluice-datafile-*.parquet")
	if err != nil {
		return fmt.Errorf("datafile temp file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		o.name = f.Name() // removed by close instead
	}
	o.file = f
	return nil
}

func (o *output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if o.file == nil {
		n, _ := o.mem.Write(p)
		o.n += int64(n)
		return n, nil
	}
	n, err := o.file.Write(p)
	o.n += int64(n)
	if err != nil {
		o.err = fmt.Errorf("datafile temp file: %w", err)
		return n, o.err
	}
	return n, nil
}

// bytes returns the whole file. For a temporary file it reads it into one
// buffer of the exact size.
func (o *output) bytes() ([]byte, error) {
	if o.err != nil {
		return nil, o.err
	}
	if o.file == nil {
		return o.mem.Bytes(), nil
	}
	data := make([]byte, o.n)
	if _, err := o.file.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && o.n == 0) {
		return nil, fmt.Errorf("read back datafile temp file: %w", err)
	}
	return data, nil
}

// view returns the whole file for the duration of an upload, and the
// function that releases it. A temporary file is mapped read-only where
// the OS allows (mapFile), else read like bytes.
func (o *output) view() ([]byte, func(), error) {
	if o.err != nil {
		return nil, nil, o.err
	}
	if o.file != nil && o.n > 0 {
		if data, unmap, ok := mapFile(o.file, o.n); ok {
			return data, unmap, nil
		}
	}
	data, err := o.bytes()
	return data, func() {}, err
}

// close releases the temporary file (a no-op in memory or when closed).
func (o *output) close() {
	if o.file == nil {
		return
	}
	_ = o.file.Close()
	if o.name != "" {
		_ = os.Remove(o.name)
	}
	o.file, o.name = nil, ""
	if o.err == nil {
		o.err = errors.New("datafile temp file closed")
	}
}
