package merge

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// SCD1 metadata columns. They follow the source columns of the table's
// first schema; source columns added later come after them (Delta adds
// columns at the end).
const (
	ColOrderingKey = "_sluice_ordering_key" // string: schemas ordering key of the change the row reflects
	ColOp          = "_sluice_op"           // string: c/u/r, or d for soft-deleted rows
	ColSourceTs    = "_sluice_source_ts"    // timestamp: source commit time of that change
	ColMergedAt    = "_sluice_merged_at"    // timestamp: when the merge wrote the row
	ColDeleted     = "_sluice_deleted"      // boolean, soft-delete tables only
)

// Table configuration keys sluice records in the SCD1 metaData.
const (
	confPrimaryKey  = "sluice.primaryKey"  // JSON array of key column names, in key order
	confSourceTable = "sluice.sourceTable" // schemas.TableID.String()
	confDeleteMode  = "sluice.deleteMode"  // hard or soft
)

func isMetaColumn(name string) bool { return strings.HasPrefix(name, "_sluice_") }

// toLakelogType maps the schemas Delta type to lakelog's.
func toLakelogType(t schemas.DeltaType) (lakelog.DataType, error) {
	switch t.Name {
	case schemas.DeltaDecimal:
		return lakelog.Decimal(t.Precision, t.Scale), nil
	case schemas.DeltaArray:
		if t.Element == nil {
			return nil, fmt.Errorf("array without element type")
		}
		el, err := toLakelogType(*t.Element)
		if err != nil {
			return nil, err
		}
		return &lakelog.ArrayType{ElementType: el, ContainsNull: true}, nil
	}
	return &lakelog.PrimitiveType{Name: t.Name}, nil
}

// fromLakelogType maps a lakelog type to the schemas Delta type.
func fromLakelogType(t lakelog.DataType) (schemas.DeltaType, error) {
	switch x := t.(type) {
	case *lakelog.PrimitiveType:
		return schemas.DeltaType{Name: x.Name, Precision: x.Precision, Scale: x.Scale}, nil
	case *lakelog.ArrayType:
		el, err := fromLakelogType(x.ElementType)
		if err != nil {
			return schemas.DeltaType{}, err
		}
		return schemas.DeltaType{Name: schemas.DeltaArray, Element: &el}, nil
	}
	return schemas.DeltaType{}, fmt.Errorf("unsupported column type %s", t.TypeName())
}

// deltaColumns lists a table schema as schemas.DeltaColumns.
func deltaColumns(s *lakelog.StructType) ([]schemas.DeltaColumn, error) {
	out := make([]schemas.DeltaColumn, 0, len(s.Fields))
	for _, f := range s.Fields {
		t, err := fromLakelogType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		out = append(out, schemas.DeltaColumn{Name: f.Name, Type: t, Nullable: f.Nullable})
	}
	return out, nil
}

// structOf builds a table schema from columns.
func structOf(cols []schemas.DeltaColumn) (*lakelog.StructType, error) {
	s := &lakelog.StructType{}
	for _, c := range cols {
		t, err := toLakelogType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		s.Fields = append(s.Fields, &lakelog.StructField{Name: c.Name, Type: t, Nullable: c.Nullable})
	}
	return s, nil
}

// metaColumns are the metadata columns of a new table.
func metaColumns(soft bool) []schemas.DeltaColumn {
	cols := []schemas.DeltaColumn{
		{Name: ColOrderingKey, Type: schemas.DeltaType{Name: schemas.DeltaString}, Nullable: false},
		{Name: ColOp, Type: schemas.DeltaType{Name: schemas.DeltaString}, Nullable: false},
		{Name: ColSourceTs, Type: schemas.DeltaType{Name: schemas.DeltaTimestamp}, Nullable: true},
		{Name: ColMergedAt, Type: schemas.DeltaType{Name: schemas.DeltaTimestamp}, Nullable: false},
	}
	if soft {
		cols = append(cols, schemas.DeltaColumn{Name: ColDeleted, Type: schemas.DeltaType{Name: schemas.DeltaBoolean}, Nullable: false})
	}
	return cols
}

// protocolFor is the protocol an SCD1 table with these columns needs:
// (1,7) with domainMetadata (the progress domain), plus timestampNtz
// (reader 3) when a column is timestamp_ntz.
func protocolFor(cols []schemas.DeltaColumn) lakelog.Protocol {
	p := lakelog.Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"domainMetadata"}}
	if slices.ContainsFunc(cols, func(c schemas.DeltaColumn) bool { return c.Type.NeedsTimestampNtz() }) {
		p.MinReaderVersion = 3
		p.ReaderFeatures = []string{"timestampNtz"}
		p.WriterFeatures = append(p.WriterFeatures, "timestampNtz")
	}
	return p
}

// mergeProtocol returns cur with the features of want added, and whether it
// changed.
func mergeProtocol(cur, want lakelog.Protocol) (lakelog.Protocol, bool) {
	out := cur
	out.ReaderFeatures = slices.Clone(cur.ReaderFeatures)
	out.WriterFeatures = slices.Clone(cur.WriterFeatures)
	changed := false
	if want.MinReaderVersion > out.MinReaderVersion {
		out.MinReaderVersion, changed = want.MinReaderVersion, true
	}
	if want.MinWriterVersion > out.MinWriterVersion {
		out.MinWriterVersion, changed = want.MinWriterVersion, true
	}
	for _, f := range want.ReaderFeatures {
		if !slices.Contains(out.ReaderFeatures, f) {
			out.ReaderFeatures, changed = append(out.ReaderFeatures, f), true
		}
	}
	for _, f := range want.WriterFeatures {
		if !slices.Contains(out.WriterFeatures, f) {
			out.WriterFeatures, changed = append(out.WriterFeatures, f), true
		}
	}
	return out, changed
}

func primaryKeyOf(m lakelog.Metadata) ([]string, error) {
	raw, ok := m.Configuration[confPrimaryKey]
	if !ok {
		return nil, nil
	}
	var key []string
	if err := json.Unmarshal([]byte(raw), &key); err != nil {
		return nil, fmt.Errorf("table property %s: %w", confPrimaryKey, err)
	}
	return key, nil
}
