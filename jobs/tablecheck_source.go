package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// checkSourceFor picks the configured source that holds table id: the one
// named (--source), else the only source of the right kind.
func checkSourceFor(cfg *Config, name string, id schemas.TableID) (*SourceConfig, error) {
	if name != "" {
		return pickSource(cfg, name)
	}
	var fit []*SourceConfig
	for i := range cfg.Sources {
		s := &cfg.Sources[i]
		if (s.Type == "postgres") == (id.Schema != "") {
			fit = append(fit, s)
		}
	}
	switch len(fit) {
	case 1:
		return fit[0], nil
	case 0:
		kind := "MySQL/MariaDB (db.table)"
		if id.Schema != "" {
			kind = "PostgreSQL (db.schema.table)"
		}
		return nil, UsageError(fmt.Errorf("table %s: no %s source in the config", id, kind))
	}
	return nil, UsageError(fmt.Errorf("table %s: %d sources could hold it: choose one with --source", id, len(fit)))
}

// openCheckSource opens the snapshot source of one table of s, with the
// snapshot job's opener.
func openCheckSource(ctx context.Context, s *SourceConfig, id schemas.TableID, logger *slog.Logger) (closingSource, error) {
	name := id.Schema + "." + id.Table
	if id.Schema == "" {
		name = id.Database + "." + id.Table
	}
	return openSnapshotSource(ctx, snapshotSource{cfg: s, db: id.Database, tables: []string{name}}, 1, logger)
}

// reloadSource is the snapshot.Source a repair runs: the one table, with
// Where set to push the selection down to the database, and a filter that
// keeps exactly the keys to reload whatever the database returns (the
// filter makes the reload exact; Where only makes it cheap).
type reloadSource struct {
	snapshot.Source
	table *snapshot.Table
	keep  func(row []any) (bool, error)
}

func (r *reloadSource) Tables(context.Context) ([]*snapshot.Table, error) {
	return []*snapshot.Table{r.table}, nil
}

func (r *reloadSource) OpenView(ctx context.Context) (snapshot.View, error) {
	v, err := r.Source.OpenView(ctx)
	if err != nil {
		return nil, err
	}
	return &reloadView{View: v, keep: r.keep}, nil
}

type reloadView struct {
	snapshot.View
	keep func(row []any) (bool, error)
}

func (v *reloadView) ReadChunk(ctx context.Context, t *snapshot.Table, c snapshot.Chunk, emit func(row []any) error) error {
	return v.View.ReadChunk(ctx, t, c, func(row []any) error {
		ok, err := v.keep(row)
		if err != nil || !ok {
			return err
		}
		return emit(row)
	})
}

// sqlDialect renders identifiers and literals of one source's SQL.
type sqlDialect struct {
	ident   func(string) string
	literal func(string) string
}

func dialectOf(connector string) sqlDialect {
	if connector == schemas.ConnectorPostgres {
		return sqlDialect{
			ident: func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` },
			// snapshot/postgres sessions run with standard_conforming_strings
			// on: only the quote needs doubling.
			literal: func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" },
		}
	}
	return sqlDialect{
		ident: func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" },
		// MySQL reads backslash escapes unless the session's sql_mode has
		// NO_BACKSLASH_ESCAPES (then \\ would be two backslashes and the
		// key would not match: the repair then misses it, which the next
		// validate shows; it never reloads a wrong row, see reloadSource).
		literal: func(s string) string {
			s = strings.ReplaceAll(s, `\`, `\\`)
			return "'" + strings.ReplaceAll(s, "'", "''") + "'"
		},
	}
}

// keyRow renders the key columns as a row value: (a, b) or a.
func (d sqlDialect) keyRow(key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = d.ident(k)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// chunkPredicate renders lo < key <= hi from a chunk's source bounds
// (literals in the source's text form, which both databases convert to
// the column's type when compared with it).
func (d sqlDialect) chunkPredicate(key []string, c snapshot.Chunk) string {
	row := d.keyRow(key)
	lit := func(b snapshot.Bound) string {
		parts := make([]string, len(b))
		for i, v := range b {
			parts[i] = d.literal(v)
		}
		if len(parts) == 1 {
			return parts[0]
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	var conds []string
	if c.Lo != nil {
		conds = append(conds, row+" > "+lit(c.Lo))
	}
	if c.Hi != nil {
		conds = append(conds, row+" <= "+lit(c.Hi))
	}
	if len(conds) == 0 {
		return "TRUE"
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

// keyListLiteral renders one Debezium key value of col as a SQL literal,
// for the plain types whose Debezium value is their SQL text (integers
// without a semantic type, strings: text, uuid, enum); ok is false for
// anything else, e.g. a date's day number (then repair selects by chunk
// ranges).
func (d sqlDialect) keyListLiteral(col schemas.Column, v any) (string, bool) {
	switch col.Semantic {
	case "", schemas.SemUUID, schemas.SemEnum:
	default:
		return "", false
	}
	switch x := v.(type) {
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case string:
		return d.literal(x), true
	}
	return "", false
}

// keyListPredicate renders key IN (...) for keys (Debezium values aligned
// with the key columns cols); ok is false when a value has no plain
// literal.
func (d sqlDialect) keyListPredicate(cols []schemas.Column, keys [][]any) (string, bool) {
	key := make([]string, len(cols))
	for i, c := range cols {
		key[i] = c.Name
	}
	items := make([]string, len(keys))
	for i, k := range keys {
		parts := make([]string, len(k))
		for j, v := range k {
			lit, ok := d.keyListLiteral(cols[j], v)
			if !ok {
				return "", false
			}
			parts[j] = lit
		}
		if len(parts) == 1 {
			items[i] = parts[0]
		} else {
			items[i] = "(" + strings.Join(parts, ", ") + ")"
		}
	}
	return d.keyRow(key) + " IN (" + strings.Join(items, ", ") + ")", true
}
