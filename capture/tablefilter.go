package capture

import (
	"fmt"
	"regexp"
)

// TableFilter decides which tables a source captures, by qualified name
// ("schema.table" for PostgreSQL, "db.table" for MySQL/MariaDB). Patterns
// match the whole name. Safe for concurrent use once built.
type TableFilter struct {
	tables  map[string]bool // nil: any table
	include []*regexp.Regexp
	exclude []*regexp.Regexp
}

// NewTableFilter builds a filter: a table is captured when it is in tables
// (if any are given), matches one include pattern (if any are given), and
// matches no exclude pattern. A bad pattern is an error naming it.
func NewTableFilter(tables, include, exclude []string) (*TableFilter, error) {
	f := &TableFilter{}
	if len(tables) > 0 {
		f.tables = map[string]bool{}
		for _, t := range tables {
			f.tables[t] = true
		}
	}
	compile := func(kind string, pats []string) ([]*regexp.Regexp, error) {
		var out []*regexp.Regexp
		for _, p := range pats {
			re, err := regexp.Compile("^(?:" + p + ")$")
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", kind, p, err)
			}
			out = append(out, re)
		}
		return out, nil
	}
	var err error
	if f.include, err = compile("include", include); err != nil {
		return nil, err
	}
	if f.exclude, err = compile("exclude", exclude); err != nil {
		return nil, err
	}
	return f, nil
}

// Match reports whether the table called name is captured.
func (f *TableFilter) Match(name string) bool {
	if f.tables != nil && !f.tables[name] {
		return false
	}
	if len(f.include) > 0 && !matchAny(f.include, name) {
		return false
	}
	return !matchAny(f.exclude, name)
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
