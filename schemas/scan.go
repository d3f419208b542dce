package schemas

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A minimal JSON scanner for the envelope's fast path. It walks the top-level
// keys of an object and skips values it does not need (before/after/schema)
// by matching brackets and strings without building anything, which is what
// makes ParseHeader several times faster than encoding/json. It validates as
// much as it reads: unbalanced brackets, bad literals and truncated strings
// are errors, but a skipped value is not checked for e.g. duplicate keys.

var errSyntax = errors.New("value is not JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i]
// (leading space allowed).
func skipValue(b []byte, i int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errSyntax
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		return skipContainer(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	}
	return 0, errSyntax
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	digits := 0
	for i < len(b) {
		c := b[i]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			if c >= '0' && c <= '9' {
				digits++
			}
			i++
			continue
		}
		break
	}
	if digits == 0 || i == start {
		return 0, errSyntax
	}
	return i, nil
}

// skipString returns the index past the closing quote of the string at b[i].
func skipString(b []byte, i int) (int, error) {
	i++ // opening quote
	for i < len(b) {
		c := b[i]
		if !stringSpecial[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i += 2
			continue
		}
		return 0, errSyntax // control character
	}
	return 0, errSyntax
}

// stringSpecial marks the bytes that end a plain run inside a string.
var stringSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// structural marks the bytes skipContainer must look at.
var structural = [256]bool{'{': true, '}': true, '[': true, ']': true, '"': true}

// skipContainer skips an object or array by counting brackets outside strings.
func skipContainer(b []byte, i int) (int, error) {
	depth := 0
	for i < len(b) {
		if !structural[b[i]] {
			i++
			continue
		}
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
			if depth < 0 {
				return 0, errSyntax
			}
		case '"':
			j, err := skipString(b, i)
			if err != nil {
				return 0, err
			}
			i = j
			continue
		}
		i++
	}
	return 0, errSyntax
}

// readString decodes the JSON string at b[i] and returns it and the index past
// it. Strings without escapes are returned without copying more than once.
func readString(b []byte, i int) (string, int, error) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, errSyntax
	}
	j := i + 1
	for j < len(b) {
		c := b[j]
		if c == '"' {
			return string(b[i+1 : j]), j + 1, nil
		}
		if c == '\\' {
			return readEscaped(b, i)
		}
		if c < 0x20 {
			return "", 0, errSyntax
		}
		j++
	}
	return "", 0, errSyntax
}

func readEscaped(b []byte, i int) (string, int, error) {
	out := make([]byte, 0, 32)
	j := i + 1
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return string(out), j + 1, nil
		case c < 0x20:
			return "", 0, errSyntax
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			return "", 0, errSyntax
		}
		e := b[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, ok := readU4(b, j)
			if !ok {
				return "", 0, errSyntax
			}
			j = n
			if utf16.IsSurrogate(r) {
				if r2, n2, ok := readU4Escaped(b, j); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r, j = d, n2
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", 0, errSyntax
		}
	}
	return "", 0, errSyntax
}

func readU4(b []byte, j int) (rune, int, bool) {
	if j+4 > len(b) {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(string(b[j:j+4]), 16, 32)
	if err != nil {
		return 0, 0, false
	}
	return rune(v), j + 4, true
}

func readU4Escaped(b []byte, j int) (rune, int, bool) {
	if j+6 > len(b) || b[j] != '\\' || b[j+1] != 'u' {
		return 0, 0, false
	}
	return readU4(b, j+2)
}

// objectIter walks the members of a JSON object: call next until it returns
// ok=false; then err says whether the object was well formed.
type objectIter struct {
	b     []byte
	i     int
	first bool
	err   error
}

// newObjectIter starts at the '{' at or after b[i].
func newObjectIter(b []byte, i int) objectIter {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return objectIter{err: errSyntax}
	}
	return objectIter{b: b, i: i + 1, first: true}
}

// next returns the next key and the offset of its value's first byte; the
// caller must then call skip (or consume the value and set it.i).
func (it *objectIter) next() (key string, valStart int, ok bool) {
	if it.err != nil {
		return "", 0, false
	}
	b := it.b
	i := skipSpace(b, it.i)
	if i >= len(b) {
		it.err = errSyntax
		return "", 0, false
	}
	if b[i] == '}' {
		it.i = i + 1
		return "", 0, false
	}
	if !it.first {
		if b[i] != ',' {
			it.err = errSyntax
			return "", 0, false
		}
		i = skipSpace(b, i+1)
	}
	it.first = false
	k, j, err := readString(b, i)
	if err != nil {
		it.err = err
		return "", 0, false
	}
	j = skipSpace(b, j)
	if j >= len(b) || b[j] != ':' {
		it.err = errSyntax
		return "", 0, false
	}
	j = skipSpace(b, j+1)
	if j >= len(b) {
		it.err = errSyntax
		return "", 0, false
	}
	return k, j, true
}

// skipTo records that the current value ends at end (or records err).
func (it *objectIter) skipTo(end int, err error) {
	if err != nil {
		it.err = err
		return
	}
	it.i = end
}

// value skips the value at start and returns its raw bytes.
func (it *objectIter) value(start int) []byte {
	end, err := skipValue(it.b, start)
	it.skipTo(end, err)
	if err != nil {
		return nil
	}
	return it.b[start:end]
}

// member returns the next key and its value's raw bytes; ok is false at
// the end of the object or at the first syntax error (then it.err says
// which).
func (it *objectIter) member() (key string, value []byte, ok bool) {
	k, vs, ok := it.next()
	if !ok {
		return "", nil, false
	}
	v := it.value(vs)
	if it.err != nil {
		return "", nil, false
	}
	return k, v, true
}

func isNull(raw []byte) bool { return len(raw) == 4 && string(raw) == "null" }

// rawInt parses an integer JSON value; numeric strings ("123") are accepted
// because Debezium's own documentation shows them and some converters emit
// them. null gives ok=false without error.
func rawInt(raw []byte) (v int64, ok bool, err error) {
	if len(raw) == 0 || isNull(raw) {
		return 0, false, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if s, _, err = readString(raw, 0); err != nil {
			return 0, false, err
		}
	}
	v, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, err
	}
	return v, true, nil
}

func rawUint(raw []byte) (v uint64, ok bool, err error) {
	if len(raw) == 0 || isNull(raw) {
		return 0, false, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if s, _, err = readString(raw, 0); err != nil {
			return 0, false, err
		}
	}
	v, err = strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, err
	}
	return v, true, nil
}

// rawString returns a JSON string's value; null gives "".
func rawString(raw []byte) (string, error) {
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	s, _, err := readString(raw, 0)
	return s, err
}
