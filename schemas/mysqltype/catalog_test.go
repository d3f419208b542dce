package mysqltype

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// Expected columns follow the Debezium MySQL connector's type table
// (decimal.handling.mode=precise, adaptive_time_microseconds), as
// capture/mysql documents it.
func TestCatalogColumns(t *testing.T) {
	tests := []struct {
		in   CatalogColumn
		want schemas.Column
	}{
		{CatalogColumn{Name: "a", DataType: "int", ColumnType: "int(10) unsigned"},
			schemas.Column{Name: "a", Type: schemas.Int64, SourceType: "INT"}},
		{CatalogColumn{Name: "a", DataType: "smallint", ColumnType: "smallint(6)", Nullable: true},
			schemas.Column{Name: "a", Type: schemas.Int16, Optional: true, SourceType: "SMALLINT"}},
		{CatalogColumn{Name: "a", DataType: "bigint", ColumnType: "bigint(20) unsigned"},
			schemas.Column{Name: "a", Type: schemas.Bytes, Semantic: schemas.SemDecimal, SourceType: "BIGINT",
				Params: map[string]string{"scale": "0", "connect.decimal.precision": "20"}}},
		{CatalogColumn{Name: "a", DataType: "decimal", ColumnType: "decimal(10,2)", Precision: 10, Scale: 2},
			schemas.Column{Name: "a", Type: schemas.Bytes, Semantic: schemas.SemDecimal, SourceType: "DECIMAL",
				Params: map[string]string{"scale": "2", "connect.decimal.precision": "10"}}},
		{CatalogColumn{Name: "a", DataType: "bit", ColumnType: "bit(10)"},
			schemas.Column{Name: "a", Type: schemas.Bytes, Semantic: schemas.SemBits, SourceType: "BIT", Params: map[string]string{"length": "10"}}},
		{CatalogColumn{Name: "a", DataType: "bit", ColumnType: "bit(1)"},
			schemas.Column{Name: "a", Type: schemas.Boolean, SourceType: "BIT"}},
		{CatalogColumn{Name: "a", DataType: "datetime", ColumnType: "datetime(3)", FSP: 3},
			schemas.Column{Name: "a", Type: schemas.Int64, Semantic: schemas.SemTimestamp, SourceType: "DATETIME"}},
		{CatalogColumn{Name: "a", DataType: "datetime", ColumnType: "datetime(6)", FSP: 6},
			schemas.Column{Name: "a", Type: schemas.Int64, Semantic: schemas.SemMicroTimestamp, SourceType: "DATETIME"}},
		{CatalogColumn{Name: "a", DataType: "timestamp", ColumnType: "timestamp(3)", FSP: 3},
			schemas.Column{Name: "a", Type: schemas.String, Semantic: schemas.SemZonedTimestamp, SourceType: "TIMESTAMP"}},
		{CatalogColumn{Name: "a", DataType: "longtext", ColumnType: "longtext", Charset: "utf8mb4", JSON: true},
			schemas.Column{Name: "a", Type: schemas.String, Semantic: schemas.SemJSON, SourceType: "LONGTEXT"}},
		{CatalogColumn{Name: "a", DataType: "enum", ColumnType: "enum('x','it''s')", Charset: "utf8mb4"},
			schemas.Column{Name: "a", Type: schemas.String, Semantic: schemas.SemEnum, SourceType: "ENUM", Params: map[string]string{"allowed": "x,it's"}}},
		{CatalogColumn{Name: "a", DataType: "binary", ColumnType: "binary(4)"},
			schemas.Column{Name: "a", Type: schemas.Bytes, SourceType: "BINARY"}},
	}
	for _, tt := range tests {
		d, err := CatalogDef(tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in.ColumnType, err)
		}
		c, err := NewColumn(d)
		if err != nil {
			t.Fatalf("%s: %v", tt.in.ColumnType, err)
		}
		if !reflect.DeepEqual(c.Column, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.in.ColumnType, c.Column, tt.want)
		}
	}
	if _, err := CatalogDef(CatalogColumn{Name: "v", DataType: "vector", ColumnType: "vector(3)"}); err == nil {
		t.Error("unknown type: no error")
	}
}

func TestBinaryPadding(t *testing.T) {
	d, _ := CatalogDef(CatalogColumn{Name: "b", DataType: "binary", ColumnType: "binary(4)"})
	c, _ := NewColumn(d)
	if got := c.Bytes([]byte{1, 2}); !reflect.DeepEqual(got, []byte{1, 2, 0, 0}) {
		t.Errorf("BINARY(4) of 0102: %x, want 01020000", got)
	}
}
