package datafile

import (
	"fmt"
	"math/big"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluicehq/sluice/lakelog"
)

// kind is the Delta primitive type of a leaf, resolved once so the hot path
// switches on a small integer instead of comparing type names.
type kind uint8

const (
	kindString kind = iota + 1
	kindLong
	kindInteger
	kindShort
	kindByte
	kindFloat
	kindDouble
	kindBoolean
	kindBinary
	kindDate
	kindTimestamp
	kindTimestampNTZ
	kindDecimal32  // decimal(p<=9, s) as INT32
	kindDecimal64  // decimal(p<=18, s) as INT64
	kindDecimalBig // decimal(p>18, s) as FIXED_LEN_BYTE_ARRAY
)

func kindOf(p *lakelog.PrimitiveType) (kind, error) {
	switch p.Name {
	case "string":
		return kindString, nil
	case "long":
		return kindLong, nil
	case "integer":
		return kindInteger, nil
	case "short":
		return kindShort, nil
	case "byte":
		return kindByte, nil
	case "float":
		return kindFloat, nil
	case "double":
		return kindDouble, nil
	case "boolean":
		return kindBoolean, nil
	case "binary":
		return kindBinary, nil
	case "date":
		return kindDate, nil
	case "timestamp":
		return kindTimestamp, nil
	case "timestamp_ntz":
		return kindTimestampNTZ, nil
	case "decimal":
		switch {
		case p.Precision < 1 || p.Precision > 38 || p.Scale < 0 || p.Scale > p.Precision:
			return 0, fmt.Errorf("invalid %s", p.TypeName())
		case p.Precision <= 9:
			return kindDecimal32, nil
		case p.Precision <= 18:
			return kindDecimal64, nil
		default:
			return kindDecimalBig, nil
		}
	}
	return 0, fmt.Errorf("type %s is not supported in data files", p.TypeName())
}

// decimalBytes is the FIXED_LEN_BYTE_ARRAY length Spark uses for a decimal of
// the given precision: the fewest bytes whose two's complement range holds
// 10^precision - 1.
func decimalBytes(precision int) int {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil)
	for n := 1; ; n++ {
		if new(big.Int).Lsh(big.NewInt(1), uint(8*n-1)).Cmp(limit) >= 0 {
			return n
		}
	}
}

// node is one field of the compiled write plan: the Delta field, its place
// in the Parquet level structure and the leaf columns under it.
type node struct {
	name     string // dotted path for error messages
	field    string // the field's own name (stats JSON key)
	nullable bool
	// def is the definition level of a present (non-null) value of this node.
	def int
	// Exactly one of leaf, children, elem is set.
	leaf     *leaf
	children []*node // struct fields in schema order
	elem     *node   // array element
	// repLevel is the repetition level an element of this array node gets
	// when it is not the first in its list.
	repLevel int
	// leaves lists the leaf column indexes under this node, for writing nulls.
	leaves []int
	// stats is set for the first NumIndexedCols stats columns outside arrays.
	stats *colStats
}

// leaf is a primitive column.
type leaf struct {
	index   int
	kind    kind
	typ     *lakelog.PrimitiveType
	flbaLen int // kindDecimalBig only
}

// plan compiles schema into write nodes and the Parquet schema, keeping the
// schema's field order.
type plan struct {
	fields   []*node
	schema   *parquet.Schema
	numLeaf  int
	statCols []*node // in schema order, for the stats JSON
	// binaryPaths are the Parquet paths of binary leaves.
	binaryPaths [][]string
}

func compile(schema *lakelog.StructType, numIndexedCols int) (*plan, error) {
	if schema == nil || len(schema.Fields) == 0 {
		return nil, fmt.Errorf("schema has no fields")
	}
	p := &plan{}
	indexed := 0
	var root orderedGroup
	for _, f := range schema.Fields {
		n, pn, err := p.compileField([]string{f.Name}, f.Name, f.Name, f.Type, f.Nullable, 0, 0, &indexed, numIndexedCols, true)
		if err != nil {
			return nil, err
		}
		p.fields = append(p.fields, n)
		root = append(root, namedField{Node: pn, name: f.Name})
	}
	p.schema = parquet.NewSchema("spark_schema", root)
	return p, nil
}

// compileField builds the node for one field. statsOK is false inside
// arrays: Spark collects no stats below an array.
func (p *plan) compileField(ppath []string, path, name string, t lakelog.DataType, nullable bool, parentDef, repLevel int, indexed *int, numIndexed int, statsOK bool) (*node, parquet.Node, error) {
	n := &node{name: path, field: name, nullable: nullable, def: parentDef}
	if nullable {
		n.def++
	}
	var pn parquet.Node
	switch t := t.(type) {
	case *lakelog.PrimitiveType:
		k, err := kindOf(t)
		if err != nil {
			return nil, nil, fmt.Errorf("column %s: %w", path, err)
		}
		l := &leaf{index: p.numLeaf, kind: k, typ: t}
		p.numLeaf++
		n.leaf = l
		n.leaves = []int{l.index}
		pn = leafNode(l)
		if k == kindBinary {
			p.binaryPaths = append(p.binaryPaths, ppath)
		}
		if statsOK && *indexed < numIndexed {
			*indexed++
			n.stats = newColStats(l, path)
			p.statCols = append(p.statCols, n)
		}
	case *lakelog.StructType:
		if len(t.Fields) == 0 {
			return nil, nil, fmt.Errorf("column %s: empty struct", path)
		}
		var g orderedGroup
		for _, f := range t.Fields {
			c, cn, err := p.compileField(append(ppath[:len(ppath):len(ppath)], f.Name), path+"."+f.Name, f.Name, f.Type, f.Nullable, n.def, repLevel, indexed, numIndexed, statsOK)
			if err != nil {
				return nil, nil, err
			}
			n.children = append(n.children, c)
			n.leaves = append(n.leaves, c.leaves...)
			g = append(g, namedField{Node: cn, name: f.Name})
		}
		pn = g
	case *lakelog.ArrayType:
		// An array counts as one indexed column that only gets a nullCount.
		if statsOK && *indexed < numIndexed {
			*indexed++
			n.stats = newColStats(nil, path)
			p.statCols = append(p.statCols, n)
		}
		n.repLevel = repLevel + 1
		e, en, err := p.compileField(append(ppath[:len(ppath):len(ppath)], "list", "element"), path+".element", "element", t.ElementType, t.ContainsNull, n.def+1, repLevel+1, indexed, numIndexed, false)
		if err != nil {
			return nil, nil, err
		}
		n.elem = e
		n.leaves = e.leaves
		pn = parquet.List(en)
	default:
		return nil, nil, fmt.Errorf("column %s: type %s is not supported yet", path, t.TypeName())
	}
	if nullable {
		pn = parquet.Optional(pn)
	} else {
		pn = parquet.Required(pn)
	}
	return n, pn, nil
}

func leafNode(l *leaf) parquet.Node {
	switch l.kind {
	case kindString:
		// Dictionary pages pay off for the low-cardinality strings of CDC rows
		// (topic, op, table names); the writer's DictionaryMaxBytes bound makes
		// high-cardinality columns fall back to PLAIN instead of growing.
		return parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
	case kindLong:
		return parquet.Leaf(unannotated{parquet.Int64Type})
	case kindInteger:
		return parquet.Leaf(unannotated{parquet.Int32Type})
	case kindShort:
		return parquet.Int(16)
	case kindByte:
		return parquet.Int(8)
	case kindFloat:
		return parquet.Leaf(parquet.FloatType)
	case kindDouble:
		return parquet.Leaf(parquet.DoubleType)
	case kindBoolean:
		return parquet.Leaf(parquet.BooleanType)
	case kindBinary:
		return parquet.Leaf(parquet.ByteArrayType)
	case kindDate:
		return parquet.Date()
	case kindTimestamp:
		return parquet.Timestamp(parquet.Microsecond)
	case kindTimestampNTZ:
		return parquet.TimestampAdjusted(parquet.Microsecond, false)
	case kindDecimal32:
		return parquet.Decimal(l.typ.Scale, l.typ.Precision, parquet.Int32Type)
	case kindDecimal64:
		return parquet.Decimal(l.typ.Scale, l.typ.Precision, parquet.Int64Type)
	case kindDecimalBig:
		l.flbaLen = decimalBytes(l.typ.Precision)
		return parquet.Decimal(l.typ.Scale, l.typ.Precision, parquet.FixedLenByteArrayType(l.flbaLen))
	}
	panic("unreachable")
}

// unannotated is a physical type without a logical type. parquet-go marks
// plain INT32/INT64 as INT(32/64, signed); Spark writes no annotation, and
// we match Spark's files.
type unannotated struct{ parquet.Type }

func (unannotated) LogicalType() *format.LogicalType         { return nil }
func (unannotated) ConvertedType() *deprecated.ConvertedType { return nil }

// orderedGroup is a Parquet group whose fields keep their given order;
// parquet.Group is a map and sorts its fields by name.
type orderedGroup []parquet.Field

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return "group{" + strings.Join(g.names(), ",") + "}" }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Fields() []parquet.Field     { return g }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return g.asGroup().GoType() }
func (g orderedGroup) asGroup() parquet.Group {
	m := make(parquet.Group, len(g))
	for _, f := range g {
		m[f.Name()] = f
	}
	return m
}
func (g orderedGroup) names() []string {
	s := make([]string, len(g))
	for i, f := range g {
		s[i] = f.Name()
	}
	return s
}

// namedField gives a node its name within an orderedGroup. Value is only
// used by parquet-go's reflection-based row (de)construction, which this
// package never uses.
type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string { return f.name }
func (f namedField) Value(base reflect.Value) reflect.Value {
	if base.Kind() == reflect.Struct {
		return base.FieldByName(f.name)
	}
	return reflect.Value{}
}
