package postgres

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/schemas/pgtext"
)

// copyRows is the io.Writer that pgconn.CopyTo writes COPY's text format
// into: rows end with '\n', fields are separated by '\t', NULL is \N, and
// backslash escapes stand for control characters and backslashes, so a raw
// '\n' or '\t' is always a delimiter. Each complete row is decoded with the
// column decoders and passed to emit. Data may arrive split anywhere.
type copyRows struct {
	decoders []pgtext.Decoder
	names    []string
	emit     func(row []any) error

	partial []byte
	row     []any
	rows    int64
}

func (c *copyRows) Write(p []byte) (int, error) {
	n := len(p)
	if len(c.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			return n, nil
		}
		c.partial = append(c.partial, p[:i]...)
		if err := c.line(c.partial); err != nil {
			return 0, err
		}
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		if err := c.line(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// done reports data left after the last row end.
func (c *copyRows) done() error {
	if len(c.partial) > 0 {
		return fmt.Errorf("copy: %d bytes after the last row", len(c.partial))
	}
	return nil
}

func (c *copyRows) line(l []byte) error {
	c.rows++
	if c.row == nil {
		c.row = make([]any, len(c.decoders))
	}
	for i := range c.decoders {
		end := bytes.IndexByte(l, '\t')
		last := end < 0
		if last {
			end = len(l)
		}
		if last != (i == len(c.decoders)-1) {
			return fmt.Errorf("copy row %d: want %d fields", c.rows, len(c.decoders))
		}
		f := l[:end]
		if !last {
			l = l[end+1:]
		}
		if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
			c.row[i] = nil
			continue
		}
		s, err := unescapeCopy(f)
		if err != nil {
			return fmt.Errorf("copy row %d column %q: %w", c.rows, c.names[i], err)
		}
		v, err := c.decoders[i](s)
		if err != nil {
			return fmt.Errorf("copy row %d column %q: %w", c.rows, c.names[i], err)
		}
		c.row[i] = v
	}
	return c.emit(c.row)
}

// unescapeCopy undoes COPY text escaping.
func unescapeCopy(f []byte) (string, error) {
	i := bytes.IndexByte(f, '\\')
	if i < 0 {
		return string(f), nil
	}
	var b strings.Builder
	b.Grow(len(f))
	b.Write(f[:i])
	for ; i < len(f); i++ {
		ch := f[i]
		if ch != '\\' {
			b.WriteByte(ch)
			continue
		}
		i++
		if i == len(f) {
			return "", fmt.Errorf("trailing backslash")
		}
		switch ch = f[i]; ch {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(f) && isHex(f[i+1]) {
				i++
				v = v*16 + hexVal(f[i])
				n++
			}
			if n == 0 {
				b.WriteByte('x')
				continue
			}
			b.WriteByte(byte(v))
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(ch - '0')
			for n := 1; n < 3 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7'; n++ {
				i++
				v = v*8 + int(f[i]-'0')
			}
			b.WriteByte(byte(v))
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}
