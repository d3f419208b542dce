package mysqltype

import (
	"fmt"
	"strconv"
	"strings"
)

// CatalogColumn is one row of information_schema.COLUMNS, as sources read
// it.
type CatalogColumn struct {
	Name       string
	DataType   string // DATA_TYPE: "int", "varbinary", "longtext"
	ColumnType string // COLUMN_TYPE: "int(10) unsigned", "enum('a','b')", "binary(4)"
	Charset    string // CHARACTER_SET_NAME, "" when NULL
	Nullable   bool   // IS_NULLABLE = 'YES'
	Precision  int    // NUMERIC_PRECISION
	Scale      int    // NUMERIC_SCALE
	FSP        int    // DATETIME_PRECISION
	JSON       bool   // MariaDB: a json_valid(col) check constraint
}

// CatalogDef describes a column from its information_schema entry.
func CatalogDef(c CatalogColumn) (Def, error) {
	dt := strings.ToLower(c.DataType)
	ct := strings.ToLower(c.ColumnType)
	d := Def{
		Name:       c.Name,
		SourceType: strings.ToUpper(dt),
		Nullable:   c.Nullable,
		Unsigned:   strings.Contains(ct, "unsigned"),
		Binary:     c.Charset == "" || c.Charset == "binary",
		Latin1:     c.Charset == "latin1",
		JSON:       c.JSON || dt == "json",
	}
	switch dt {
	case "tinyint", "bool", "boolean":
		d.Type = Tiny
	case "smallint":
		d.Type = Short
	case "mediumint":
		d.Type = Int24
	case "int", "integer":
		d.Type = Long
	case "bigint":
		d.Type = LongLong
	case "decimal", "numeric":
		d.Type, d.Precision, d.Scale = Decimal, c.Precision, c.Scale
	case "float":
		d.Type = Float
	case "double", "real", "double precision":
		d.Type = Double
	case "bit":
		d.Type = Bit
		d.Bits = typeLength(ct, 1)
	case "timestamp":
		d.Type, d.FSP = Timestamp, c.FSP
	case "datetime":
		d.Type, d.FSP = Datetime, c.FSP
	case "date":
		d.Type = Date
	case "time":
		d.Type, d.FSP = Time, c.FSP
	case "year":
		d.Type = Year
	case "enum":
		d.Type, d.Values = Enum, ParseEnumValues(c.ColumnType)
	case "set":
		d.Type, d.Values = Set, ParseEnumValues(c.ColumnType)
	case "json":
		d.Type = JSON
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		d.Type = String
	case "binary":
		d.Type, d.Binary, d.FixedBytes = String, true, typeLength(ct, 1)
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		d.Type, d.Binary = String, true
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		d.Type = Geometry
	default:
		return d, fmt.Errorf("column %q: unsupported type %q", c.Name, c.ColumnType)
	}
	return d, nil
}

// typeLength reads n from "binary(n)" or "bit(n)".
func typeLength(columnType string, def int) int {
	open := strings.IndexByte(columnType, '(')
	end := strings.IndexByte(columnType, ')')
	if open < 0 || end < open {
		return def
	}
	n, err := strconv.Atoi(columnType[open+1 : end])
	if err != nil {
		return def
	}
	return n
}

// ParseEnumValues extracts the members of "enum('a','b”c')" or "set(…)".
func ParseEnumValues(columnType string) []string {
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return nil
	}
	s := columnType[open+1:]
	var out []string
	for len(s) > 0 && s[0] == '\'' {
		var sb strings.Builder
		i := 1
		for i < len(s) {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					sb.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			sb.WriteByte(s[i])
			i++
		}
		out = append(out, sb.String())
		s = strings.TrimLeft(s[min(i+1, len(s)):], ",")
	}
	return out
}
