package pgtext

import (
	"fmt"
	"strings"
)

// parseArray reads PostgreSQL's array text form ("{1,2,NULL}",
// "{{a,b},{c,d}}", `{"x y","q\"uote"}`, optionally prefixed by dimension
// bounds like "[0:1]=") into nested []any, decoding each element with elem.
func parseArray(s string, delim byte, elem Decoder) (any, error) {
	p := arrayParser{s: s, delim: delim, elem: elem}
	if i := strings.IndexByte(s, '='); i >= 0 && strings.HasPrefix(s, "[") {
		p.i = i + 1
	}
	v, err := p.array()
	if err != nil {
		return nil, fmt.Errorf("array %q: %w", truncate(s, 64), err)
	}
	if p.i != len(s) {
		return nil, fmt.Errorf("array %q: trailing data at %d", truncate(s, 64), p.i)
	}
	return v, nil
}

type arrayParser struct {
	s     string
	i     int
	delim byte
	elem  Decoder
}

func (p *arrayParser) array() ([]any, error) {
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, fmt.Errorf("expected '{' at %d", p.i)
	}
	p.i++
	out := []any{}
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return out, nil
	}
	for {
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unterminated")
		}
		var v any
		var err error
		switch p.s[p.i] {
		case '{':
			v, err = p.array()
		case '"':
			var text string
			if text, err = p.quoted(); err == nil {
				v, err = p.elem(text)
			}
		default:
			start := p.i
			for p.i < len(p.s) && p.s[p.i] != p.delim && p.s[p.i] != '}' {
				p.i++
			}
			text := strings.TrimSpace(p.s[start:p.i])
			if strings.EqualFold(text, "NULL") {
				v = nil
			} else {
				v, err = p.elem(text)
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unterminated")
		}
		switch p.s[p.i] {
		case p.delim:
			p.i++
		case '}':
			p.i++
			return out, nil
		default:
			return nil, fmt.Errorf("unexpected %q at %d", p.s[p.i], p.i)
		}
	}
}

func (p *arrayParser) quoted() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("dangling escape")
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case '"':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("unterminated quoted element")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
