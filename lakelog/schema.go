package lakelog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// DataType is a Delta column type: a *PrimitiveType, *StructType,
// *ArrayType or *MapType. It serializes as Spark's StructType JSON
// (PROTOCOL.md §Schema Serialization Format).
type DataType interface {
	// TypeName is "string", "long", "decimal(10,2)", "struct", "array" or "map".
	TypeName() string
	isDataType()
}

// PrimitiveType is a leaf type such as "long" or "decimal(10,2)".
type PrimitiveType struct {
	Name string // string, long, integer, short, byte, float, double, boolean, binary, date, timestamp, timestamp_ntz, void, variant, or "decimal"
	// Precision and Scale are set when Name is "decimal".
	Precision, Scale int
}

// Primitive types, ready to use.
var (
	TypeString       = &PrimitiveType{Name: "string"}
	TypeLong         = &PrimitiveType{Name: "long"}
	TypeInteger      = &PrimitiveType{Name: "integer"}
	TypeShort        = &PrimitiveType{Name: "short"}
	TypeByte         = &PrimitiveType{Name: "byte"}
	TypeFloat        = &PrimitiveType{Name: "float"}
	TypeDouble       = &PrimitiveType{Name: "double"}
	TypeBoolean      = &PrimitiveType{Name: "boolean"}
	TypeBinary       = &PrimitiveType{Name: "binary"}
	TypeDate         = &PrimitiveType{Name: "date"}
	TypeTimestamp    = &PrimitiveType{Name: "timestamp"}
	TypeTimestampNTZ = &PrimitiveType{Name: "timestamp_ntz"}
)

// Decimal returns the decimal(p,s) type.
func Decimal(precision, scale int) *PrimitiveType {
	return &PrimitiveType{Name: "decimal", Precision: precision, Scale: scale}
}

// TypeName implements DataType.
func (p *PrimitiveType) TypeName() string {
	if p.Name == "decimal" {
		return fmt.Sprintf("decimal(%d,%d)", p.Precision, p.Scale)
	}
	return p.Name
}
func (*PrimitiveType) isDataType() {}

// StructField is one named field of a struct.
type StructField struct {
	Name     string         `json:"name"`
	Type     DataType       `json:"-"`
	Nullable bool           `json:"nullable"`
	Metadata map[string]any `json:"metadata"`
}

// StructType is a struct of fields; a table schema is a StructType.
type StructType struct {
	Fields []*StructField
}

// TypeName implements DataType.
func (*StructType) TypeName() string { return "struct" }
func (*StructType) isDataType()      {}

// Field returns the field named name (exact match) or nil.
func (s *StructType) Field(name string) *StructField {
	for _, f := range s.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// ArrayType is array<elementType>.
type ArrayType struct {
	ElementType  DataType
	ContainsNull bool
}

// TypeName implements DataType.
func (*ArrayType) TypeName() string { return "array" }
func (*ArrayType) isDataType()      {}

// MapType is map<keyType,valueType>.
type MapType struct {
	KeyType           DataType
	ValueType         DataType
	ValueContainsNull bool
}

// TypeName implements DataType.
func (*MapType) TypeName() string { return "map" }
func (*MapType) isDataType()      {}

var decimalRe = regexp.MustCompile(`^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)

var primitiveNames = map[string]bool{
	"string": true, "long": true, "integer": true, "short": true, "byte": true,
	"float": true, "double": true, "boolean": true, "binary": true, "date": true,
	"timestamp": true, "timestamp_ntz": true, "void": true, "variant": true,
}

// ParseSchema parses a metaData.schemaString.
func ParseSchema(schemaString string) (*StructType, error) {
	var raw json.RawMessage = []byte(schemaString)
	t, err := parseType(raw)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	st, ok := t.(*StructType)
	if !ok {
		return nil, fmt.Errorf("schema: top level is %s, not struct", t.TypeName())
	}
	return st, nil
}

func parseType(raw json.RawMessage) (DataType, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return nil, err
		}
		if m := decimalRe.FindStringSubmatch(name); m != nil {
			p, _ := strconv.Atoi(m[1])
			s, _ := strconv.Atoi(m[2])
			return Decimal(p, s), nil
		}
		if name == "decimal" { // Spark's default decimal
			return Decimal(10, 0), nil
		}
		if !primitiveNames[name] {
			return nil, fmt.Errorf("unknown type %q", name)
		}
		return &PrimitiveType{Name: name}, nil
	}
	var obj struct {
		Type              string            `json:"type"`
		Fields            []json.RawMessage `json:"fields"`
		ElementType       json.RawMessage   `json:"elementType"`
		ContainsNull      bool              `json:"containsNull"`
		KeyType           json.RawMessage   `json:"keyType"`
		ValueType         json.RawMessage   `json:"valueType"`
		ValueContainsNull bool              `json:"valueContainsNull"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	switch obj.Type {
	case "struct":
		st := &StructType{Fields: make([]*StructField, 0, len(obj.Fields))}
		for _, fr := range obj.Fields {
			var f struct {
				Name     string          `json:"name"`
				Type     json.RawMessage `json:"type"`
				Nullable *bool           `json:"nullable"`
				Metadata map[string]any  `json:"metadata"`
			}
			if err := json.Unmarshal(fr, &f); err != nil {
				return nil, err
			}
			ft, err := parseType(f.Type)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			nullable := true
			if f.Nullable != nil {
				nullable = *f.Nullable
			}
			st.Fields = append(st.Fields, &StructField{Name: f.Name, Type: ft, Nullable: nullable, Metadata: f.Metadata})
		}
		return st, nil
	case "array":
		et, err := parseType(obj.ElementType)
		if err != nil {
			return nil, fmt.Errorf("array element: %w", err)
		}
		return &ArrayType{ElementType: et, ContainsNull: obj.ContainsNull}, nil
	case "map":
		kt, err := parseType(obj.KeyType)
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		vt, err := parseType(obj.ValueType)
		if err != nil {
			return nil, fmt.Errorf("map value: %w", err)
		}
		return &MapType{KeyType: kt, ValueType: vt, ValueContainsNull: obj.ValueContainsNull}, nil
	default:
		return nil, fmt.Errorf("unknown type %q", obj.Type)
	}
}

// String serializes the schema as a schemaString.
func (s *StructType) String() string {
	var b strings.Builder
	writeType(&b, s)
	return b.String()
}

func writeType(b *strings.Builder, t DataType) {
	switch t := t.(type) {
	case *PrimitiveType:
		q, _ := json.Marshal(t.TypeName())
		b.Write(q)
	case *StructType:
		b.WriteString(`{"type":"struct","fields":[`)
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			name, _ := json.Marshal(f.Name)
			b.WriteString(`{"name":`)
			b.Write(name)
			b.WriteString(`,"type":`)
			writeType(b, f.Type)
			b.WriteString(`,"nullable":`)
			b.WriteString(strconv.FormatBool(f.Nullable))
			b.WriteString(`,"metadata":`)
			md := f.Metadata
			if md == nil {
				md = map[string]any{}
			}
			mj, _ := json.Marshal(md)
			b.Write(mj)
			b.WriteByte('}')
		}
		b.WriteString(`]}`)
	case *ArrayType:
		b.WriteString(`{"type":"array","elementType":`)
		writeType(b, t.ElementType)
		b.WriteString(`,"containsNull":`)
		b.WriteString(strconv.FormatBool(t.ContainsNull))
		b.WriteByte('}')
	case *MapType:
		b.WriteString(`{"type":"map","keyType":`)
		writeType(b, t.KeyType)
		b.WriteString(`,"valueType":`)
		writeType(b, t.ValueType)
		b.WriteString(`,"valueContainsNull":`)
		b.WriteString(strconv.FormatBool(t.ValueContainsNull))
		b.WriteByte('}')
	}
}
