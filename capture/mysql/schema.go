package mysql

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluicehq/sluice/schemas"
)

// table is a captured table's shape as of the current binlog event.
type table struct {
	id      schemas.TableID
	columns []column
	// schemaCols are the envelope columns, shared by all of the table's
	// Changes until its shape changes (never mutated).
	schemaCols []schemas.Column
	key        []string
	keyIdx     []int

	// The table-map fingerprint this table was built from: a table-map
	// event with other types or metas means the table changed.
	colTypes []byte
	colMeta  []uint16
}

func (t *table) matches(tm *replication.TableMapEvent) bool {
	return bytes.Equal(t.colTypes, tm.ColumnType) && slices.Equal(t.colMeta, tm.ColumnMeta)
}

// catalogColumn is one row of information_schema.COLUMNS.
type catalogColumn struct {
	name       string
	columnType string // "int(10) unsigned", "enum('a','b')"
	dataType   string // "int", "enum", "varbinary"
	charset    string // "" for non-text
	json       bool
}

// catalogTable is what information_schema says about a table now.
type catalogTable struct {
	columns []catalogColumn
	key     []string
}

// schemaTracker builds tables from table-map events, filling what the
// events lack (column names without binlog_row_metadata=FULL, primary keys,
// MariaDB's JSON columns) from the information_schema. Not safe for
// concurrent use: only the stream goroutine uses it.
type schemaTracker struct {
	query   func(q string, args ...any) (*gomysql.Result, error)
	flavor  string
	tables  map[string]*table        // by "db.table"
	catalog map[string]*catalogTable // by "db.table"; cleared on DDL
}

func newSchemaTracker(query func(q string, args ...any) (*gomysql.Result, error), flavor string) *schemaTracker {
	return &schemaTracker{query: query, flavor: flavor, tables: map[string]*table{}, catalog: map[string]*catalogTable{}}
}

// invalidate forgets every table shape: called after DDL, so that the next
// table-map event of each table re-reads its information_schema entry.
func (s *schemaTracker) invalidate() {
	clear(s.tables)
	clear(s.catalog)
}

// table returns the shape of the table a table-map event describes.
func (s *schemaTracker) table(tm *replication.TableMapEvent) (*table, error) {
	name := string(tm.Schema) + "." + string(tm.Table)
	if t := s.tables[name]; t != nil && t.matches(tm) {
		return t, nil
	}
	t, err := s.build(tm)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	s.tables[name] = t
	return t, nil
}

func (s *schemaTracker) build(tm *replication.TableMapEvent) (*table, error) {
	db, name := string(tm.Schema), string(tm.Table)
	cat, err := s.catalogTable(db, name)
	if err != nil {
		return nil, err
	}
	n := int(tm.ColumnCount)
	names := tm.ColumnNameString()
	byName := map[string]*catalogColumn{}
	for i := range cat.columns {
		byName[strings.ToLower(cat.columns[i].name)] = &cat.columns[i]
	}
	if len(names) == 0 {
		// No optional metadata: columns are matched by position, which is
		// only right if the table has not changed since this event.
		if len(cat.columns) != n {
			return nil, fmt.Errorf("binlog has %d columns, information_schema %d, and the binlog has no column names (set binlog_row_metadata=FULL)", n, len(cat.columns))
		}
		names = make([]string, n)
		for i := range names {
			names[i] = cat.columns[i].name
		}
	}
	unsignedMeta := tm.UnsignedMap()
	collations := tm.CollationMap()
	enumValues := tm.EnumStrValueMap()
	setValues := tm.SetStrValueMap()

	t := &table{
		id:       schemas.TableID{Database: db, Table: name},
		columns:  make([]column, n),
		colTypes: slices.Clone(tm.ColumnType),
		colMeta:  slices.Clone(tm.ColumnMeta),
	}
	for i := 0; i < n; i++ {
		info := colInfo{name: names[i]}
		cc := byName[strings.ToLower(names[i])]
		if cc != nil {
			info.srcType = strings.ToUpper(cc.dataType)
			info.unsigned = strings.Contains(strings.ToLower(cc.columnType), "unsigned")
			info.binary = cc.charset == "" || cc.charset == "binary"
			info.latin1 = cc.charset == "latin1"
			info.json = cc.json || cc.dataType == "json"
			if cc.dataType == "enum" || cc.dataType == "set" {
				info.values = parseEnumValues(cc.columnType)
			}
		}
		if unsignedMeta != nil {
			if u, ok := unsignedMeta[i]; ok {
				info.unsigned = u
			}
		}
		if coll, ok := collations[i]; ok {
			info.binary = coll == binaryCollation
			info.latin1 = latin1Collations[coll]
		}
		if v, ok := enumValues[i]; ok {
			info.values = v
		}
		if v, ok := setValues[i]; ok {
			info.values = v
		}
		if cc == nil && collations == nil && isTextType(tm.ColumnType[i]) {
			return nil, fmt.Errorf("column %q: not in information_schema and the binlog has no charset metadata", names[i])
		}
		_, nullable := tm.Nullable(i)
		col, err := newColumn(tm.ColumnType[i], tm.ColumnMeta[i], nullable, info)
		if err != nil {
			return nil, err
		}
		t.columns[i] = col
	}
	t.schemaCols = make([]schemas.Column, n)
	for i := range t.columns {
		t.schemaCols[i] = t.columns[i].Column.Column
	}
	var keyNames []string
	if len(tm.PrimaryKey) > 0 {
		for _, k := range tm.PrimaryKey {
			if int(k) >= n {
				return nil, fmt.Errorf("primary key column %d of %d", k, n)
			}
			keyNames = append(keyNames, names[k])
		}
	} else {
		keyNames = cat.key
	}
	for _, k := range keyNames {
		idx := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, k) })
		if idx < 0 {
			return nil, fmt.Errorf("primary key column %q not in the binlog's columns", k)
		}
		t.key = append(t.key, names[idx])
		t.keyIdx = append(t.keyIdx, idx)
	}
	return t, nil
}

func isTextType(tp byte) bool {
	switch tp {
	case typeString, 15 /* VARCHAR */, 253 /* VAR_STRING */, 252 /* BLOB */, 249, 250, 251:
		return true
	}
	return false
}

// catalogTable reads (and caches) the table's information_schema entry.
func (s *schemaTracker) catalogTable(db, name string) (*catalogTable, error) {
	k := db + "." + name
	if c := s.catalog[k]; c != nil {
		return c, nil
	}
	r, err := s.query(`SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IFNULL(CHARACTER_SET_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, db, name)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	c := &catalogTable{}
	for i := range r.RowNumber() {
		var cc catalogColumn
		cc.name, _ = r.GetString(i, 0)
		cc.columnType, _ = r.GetString(i, 1)
		cc.dataType, _ = r.GetString(i, 2)
		cc.charset, _ = r.GetString(i, 3)
		cc.dataType = strings.ToLower(cc.dataType)
		c.columns = append(c.columns, cc)
	}
	r, err = s.query(`SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, db, name)
	if err != nil {
		return nil, fmt.Errorf("read primary key: %w", err)
	}
	for i := range r.RowNumber() {
		col, _ := r.GetString(i, 0)
		c.key = append(c.key, col)
	}
	if s.flavor == FlavorMariaDB {
		// MariaDB's JSON is LONGTEXT with a json_valid() check constraint.
		r, err = s.query(`SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
			WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, db, name)
		if err != nil {
			return nil, fmt.Errorf("read check constraints: %w", err)
		}
		for i := range r.RowNumber() {
			clause, _ := r.GetString(i, 0)
			if m := jsonValidRE.FindStringSubmatch(clause); m != nil {
				for j := range c.columns {
					if strings.EqualFold(c.columns[j].name, m[1]) {
						c.columns[j].json = true
					}
				}
			}
		}
	}
	s.catalog[k] = c
	return c, nil
}

var jsonValidRE = regexp.MustCompile("^json_valid\\(`([^`]+)`\\)$")
