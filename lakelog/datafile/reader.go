package datafile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
)

// Rows iterates the rows of a data file, one row group decoded at a time.
// Not safe for concurrent use.
type Rows struct {
	path   string
	file   *parquet.File
	fields []fieldReader
	group  int   // next row group to load
	left   int64 // rows left in the loaded row group
	total  int64
	err    error
}

// ReadFile reads the data file of add by the table's (current) schema:
// columns are matched by name, a column missing from the file reads as nil
// (it was added after the file was written), and narrower file types widen
// (byte/short/int→long, float→double, int→double, decimal to a larger
// precision/scale, date→timestamp_ntz). Files from Spark (INT96
// timestamps, decimals as INT32/INT64/FIXED/BINARY, 2-level lists) read too.
// Errors name the file and column. Values have the Go types listed on
// Writer.Write; arrays of structs or maps are not supported yet.
func ReadFile(ctx context.Context, store blob.Store, add *lakelog.Add, schema *lakelog.StructType) (*Rows, error) {
	key, err := url.PathUnescape(add.Path)
	if err != nil {
		return nil, fmt.Errorf("data file path %q: %w", add.Path, err)
	}
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return ReadBytes(key, data, schema)
}

// ReadBytes is ReadFile over a file already in memory; name is used in errors.
func ReadBytes(name string, data []byte, schema *lakelog.StructType) (*Rows, error) {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("open parquet %s: %w", name, err)
	}
	r := &Rows{path: name, file: f, total: f.NumRows()}
	for _, fld := range schema.Fields {
		fr, err := newFieldReader(f.Root().Column(fld.Name), fld.Name, fld.Type, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r.fields = append(r.fields, fr)
	}
	return r, nil
}

// Len returns the number of rows in the file.
func (r *Rows) Len() int { return int(r.total) }

// Err returns the error that stopped Next, if any.
func (r *Rows) Err() error { return r.err }

// Next returns the next row (one value per schema field), or false at the
// end or on an error (see Err).
func (r *Rows) Next() ([]any, bool) {
	if r.err != nil {
		return nil, false
	}
	for r.left == 0 {
		groups := r.file.RowGroups()
		if r.group >= len(groups) {
			return nil, false
		}
		rg := groups[r.group]
		r.group++
		for _, fr := range r.fields {
			if err := fr.load(rg); err != nil {
				r.err = fmt.Errorf("%s: row group %d: %w", r.path, r.group-1, err)
				return nil, false
			}
		}
		r.left = rg.NumRows()
	}
	r.left--
	row := make([]any, len(r.fields))
	for i, fr := range r.fields {
		v, err := fr.next()
		if err != nil {
			r.err = fmt.Errorf("%s: %w", r.path, err)
			return nil, false
		}
		row[i] = v
	}
	return row, true
}

// fieldReader produces one field's value per row from a loaded row group.
type fieldReader interface {
	load(rg parquet.RowGroup) error
	next() (any, error)
	// peekDef is the definition level of the row's first leaf value, which
	// tells an enclosing struct whether it is null.
	peekDef() int
}

func newFieldReader(col *parquet.Column, path string, t lakelog.DataType, parentDef, parentRep int) (fieldReader, error) {
	if col == nil {
		return nullReader{}, nil // column added after this file was written
	}
	def := parentDef
	if !col.Required() {
		def++
	}
	switch t := t.(type) {
	case *lakelog.PrimitiveType:
		if !col.Leaf() {
			return nil, fmt.Errorf("column %s: file has a group, schema has %s", path, t.TypeName())
		}
		conv, err := converter(col, path, t)
		if err != nil {
			return nil, err
		}
		return &leafReader{col: col, path: path, conv: conv, def: def}, nil
	case *lakelog.StructType:
		if col.Leaf() {
			return nil, fmt.Errorf("column %s: file has a primitive, schema has a struct", path)
		}
		s := &structReader{def: def}
		for _, f := range t.Fields {
			c, err := newFieldReader(col.Column(f.Name), path+"."+f.Name, f.Type, def, parentRep)
			if err != nil {
				return nil, err
			}
			s.children = append(s.children, c)
			if _, missing := c.(nullReader); !missing && s.probe == nil {
				s.probe = c
			}
		}
		return s, nil
	case *lakelog.ArrayType:
		return newArrayReader(col, path, t, def, parentRep)
	}
	return nil, fmt.Errorf("column %s: type %s is not supported yet", path, t.TypeName())
}

type nullReader struct{}

func (nullReader) load(parquet.RowGroup) error { return nil }
func (nullReader) next() (any, error)          { return nil, nil }
func (nullReader) peekDef() int                { return 0 }

// leafReader reads a non-repeated primitive column: one value per row.
type leafReader struct {
	col  *parquet.Column
	path string
	conv func(parquet.Value) (any, error)
	def  int // definition level of a present value

	vals []any
	defs []byte
	pos  int
}

func (l *leafReader) load(rg parquet.RowGroup) error {
	l.vals, l.defs, l.pos = l.vals[:0], l.defs[:0], 0
	return readChunk(rg.ColumnChunks()[l.col.Index()], l.path, func(v parquet.Value) error {
		l.defs = append(l.defs, byte(v.DefinitionLevel()))
		if v.IsNull() || v.DefinitionLevel() < l.def {
			l.vals = append(l.vals, nil)
			return nil
		}
		x, err := l.conv(v)
		l.vals = append(l.vals, x)
		return err
	})
}

func (l *leafReader) next() (any, error) {
	if l.pos >= len(l.vals) {
		return nil, fmt.Errorf("column %s: fewer values than rows", l.path)
	}
	v := l.vals[l.pos]
	l.pos++
	return v, nil
}

func (l *leafReader) peekDef() int {
	if l.pos >= len(l.defs) {
		return 0
	}
	return int(l.defs[l.pos])
}

// readChunk decodes every value of a column chunk, handing each to fn before
// the next page is read (values alias page buffers).
func readChunk(chunk parquet.ColumnChunk, path string, fn func(parquet.Value) error) error {
	pages := chunk.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 1024)
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("column %s: %w", path, err)
		}
		vr := p.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				if ferr := fn(v); ferr != nil {
					parquet.Release(p)
					return fmt.Errorf("column %s: %w", path, ferr)
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(p)
				return fmt.Errorf("column %s: %w", path, err)
			}
		}
		parquet.Release(p)
	}
}

// structReader assembles a struct from its fields' readers.
type structReader struct {
	def      int
	children []fieldReader
	probe    fieldReader // first child present in the file
}

func (s *structReader) load(rg parquet.RowGroup) error {
	for _, c := range s.children {
		if err := c.load(rg); err != nil {
			return err
		}
	}
	return nil
}

func (s *structReader) next() (any, error) {
	null := s.probe == nil || s.probe.peekDef() < s.def
	vals := make([]any, len(s.children))
	for i, c := range s.children {
		v, err := c.next()
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	if null {
		return nil, nil
	}
	return vals, nil
}

func (s *structReader) peekDef() int {
	if s.probe == nil {
		return 0
	}
	return s.probe.peekDef()
}

// arrayReader reads an array of primitives, 3-level or legacy 2-level.
type arrayReader struct {
	leaf     *parquet.Column
	path     string
	conv     func(parquet.Value) (any, error)
	listDef  int // def level when the list is present (maybe empty)
	elemDef  int // def level when an element is non-null
	firstRep int // repetition level that starts a new element of this list

	vals []any
	defs []byte
	reps []byte
	pos  int
}

func newArrayReader(col *parquet.Column, path string, t *lakelog.ArrayType, def, parentRep int) (fieldReader, error) {
	if col.Leaf() || len(col.Columns()) != 1 || !col.Columns()[0].Repeated() {
		return nil, fmt.Errorf("column %s: file column is not a list", path)
	}
	rep := col.Columns()[0]
	repDef := def + 1
	elem := rep
	elemDef := repDef
	// 3-level: the repeated group wraps one element field, unless it is
	// named "array" or "<list>_tuple" (legacy 2-level with a struct element).
	if !rep.Leaf() && len(rep.Columns()) == 1 && rep.Name() != "array" && rep.Name() != col.Name()+"_tuple" {
		elem = rep.Columns()[0]
		if !elem.Required() {
			elemDef++
		}
	}
	et, ok := t.ElementType.(*lakelog.PrimitiveType)
	if !ok || !elem.Leaf() {
		return nil, fmt.Errorf("column %s: arrays of %s are not supported yet", path, t.ElementType.TypeName())
	}
	conv, err := converter(elem, path+".element", et)
	if err != nil {
		return nil, err
	}
	return &arrayReader{leaf: elem, path: path, conv: conv, listDef: def, elemDef: elemDef, firstRep: parentRep + 1}, nil
}

func (a *arrayReader) load(rg parquet.RowGroup) error {
	a.vals, a.defs, a.reps, a.pos = a.vals[:0], a.defs[:0], a.reps[:0], 0
	return readChunk(rg.ColumnChunks()[a.leaf.Index()], a.path, func(v parquet.Value) error {
		a.defs = append(a.defs, byte(v.DefinitionLevel()))
		a.reps = append(a.reps, byte(v.RepetitionLevel()))
		if v.IsNull() || v.DefinitionLevel() < a.elemDef {
			a.vals = append(a.vals, nil)
			return nil
		}
		x, err := a.conv(v)
		a.vals = append(a.vals, x)
		return err
	})
}

func (a *arrayReader) next() (any, error) {
	if a.pos >= len(a.vals) {
		return nil, fmt.Errorf("column %s: fewer values than rows", a.path)
	}
	d := int(a.defs[a.pos])
	switch {
	case d < a.listDef:
		a.pos++
		return nil, nil
	case d == a.listDef:
		a.pos++
		return []any{}, nil
	}
	out := []any{a.vals[a.pos]}
	a.pos++
	for a.pos < len(a.vals) && int(a.reps[a.pos]) >= a.firstRep {
		out = append(out, a.vals[a.pos])
		a.pos++
	}
	return out, nil
}

func (a *arrayReader) peekDef() int {
	if a.pos >= len(a.defs) {
		return 0
	}
	return int(a.defs[a.pos])
}

// converter returns the function turning a file value of col into the Go
// value of Delta type t, or an error when the file type cannot be read as t.
func converter(col *parquet.Column, path string, t *lakelog.PrimitiveType) (func(parquet.Value) (any, error), error) {
	k, err := kindOf(t)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", path, err)
	}
	typ := col.Type()
	phys := typ.Kind()
	var lt any
	if l := typ.LogicalType(); l != nil {
		lt = l.Value
	}
	bad := func() (func(parquet.Value) (any, error), error) {
		return nil, fmt.Errorf("column %s: file type %s cannot be read as %s", path, typ, t.TypeName())
	}
	switch k {
	case kindString:
		if phys == parquet.ByteArray {
			return func(v parquet.Value) (any, error) { return string(v.ByteArray()), nil }, nil
		}
	case kindBinary:
		if phys == parquet.ByteArray || phys == parquet.FixedLenByteArray {
			return func(v parquet.Value) (any, error) { return bytes.Clone(v.ByteArray()), nil }, nil
		}
	case kindBoolean:
		if phys == parquet.Boolean {
			return func(v parquet.Value) (any, error) { return v.Boolean(), nil }, nil
		}
	case kindLong, kindInteger, kindShort, kindByte:
		// Only widening reads: the file's integer width must fit the type's.
		width := map[kind]int{kindByte: 8, kindShort: 16, kindInteger: 32, kindLong: 64}[k]
		if !isPlainInt(lt) || intWidth(phys, lt) > width {
			return bad()
		}
		switch phys {
		case parquet.Int64:
			return func(v parquet.Value) (any, error) { return v.Int64(), nil }, nil
		case parquet.Int32:
			switch k {
			case kindLong:
				return func(v parquet.Value) (any, error) { return int64(v.Int32()), nil }, nil
			case kindInteger:
				return func(v parquet.Value) (any, error) { return v.Int32(), nil }, nil
			case kindShort:
				return func(v parquet.Value) (any, error) { return int16(v.Int32()), nil }, nil
			case kindByte:
				return func(v parquet.Value) (any, error) { return int8(v.Int32()), nil }, nil
			}
		}
	case kindFloat:
		if phys == parquet.Float {
			return func(v parquet.Value) (any, error) { return v.Float(), nil }, nil
		}
	case kindDouble:
		switch {
		case phys == parquet.Double:
			return func(v parquet.Value) (any, error) { return v.Double(), nil }, nil
		case phys == parquet.Float:
			return func(v parquet.Value) (any, error) { return float64(v.Float()), nil }, nil
		case phys == parquet.Int32 && isPlainInt(lt):
			return func(v parquet.Value) (any, error) { return float64(v.Int32()), nil }, nil
		}
	case kindDate:
		if _, ok := lt.(*format.DateType); ok && phys == parquet.Int32 {
			return func(v parquet.Value) (any, error) { return dateOf(v.Int32()), nil }, nil
		}
	case kindTimestamp, kindTimestampNTZ:
		switch phys {
		case parquet.Int96:
			return func(v parquet.Value) (any, error) {
				i := v.Int96()
				nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
				days := int64(i[2]) - 2440588 // Julian day of 1970-01-01
				return time.Unix(days*86400, nanos).UTC(), nil
			}, nil
		case parquet.Int64:
			unit := int64(1000) // ns per stored unit; no logical type: Spark's micros
			if ts, ok := lt.(*format.TimestampType); ok {
				switch ts.Unit.Value.(type) {
				case *format.MilliSeconds:
					unit = 1e6
				case *format.NanoSeconds:
					unit = 1
				}
			} else if lt != nil {
				return bad()
			}
			return func(v parquet.Value) (any, error) {
				x := v.Int64()
				if unit == 1 {
					return time.Unix(0, x).UTC(), nil
				}
				per := 1e9 / unit
				return time.Unix(floorDiv(x, per), (x-floorDiv(x, per)*per)*unit).UTC(), nil
			}, nil
		case parquet.Int32:
			if _, ok := lt.(*format.DateType); ok && k == kindTimestampNTZ {
				return func(v parquet.Value) (any, error) { return dateOf(v.Int32()), nil }, nil
			}
		}
	case kindDecimal32, kindDecimal64, kindDecimalBig:
		fileScale := 0
		switch d := lt.(type) {
		case *format.DecimalType:
			fileScale = int(d.Scale)
			if int(d.Precision)-fileScale > t.Precision-t.Scale {
				return bad()
			}
		default:
			// Type widening: byte/short/int/long → decimal with at least
			// 3/5/10/20 integer digits.
			digits := map[int]int{8: 3, 16: 5, 32: 10, 64: 20}[intWidth(phys, lt)]
			if !isPlainInt(lt) || digits == 0 || t.Precision-t.Scale < digits {
				return bad()
			}
		}
		if fileScale > t.Scale {
			return bad()
		}
		mul := powersOfTen[t.Scale-fileScale]
		rescale := func(x *big.Int) *big.Int {
			if mul.BitLen() > 1 {
				x.Mul(x, mul)
			}
			return x
		}
		switch phys {
		case parquet.Int32:
			return func(v parquet.Value) (any, error) { return rescale(big.NewInt(int64(v.Int32()))), nil }, nil
		case parquet.Int64:
			return func(v parquet.Value) (any, error) { return rescale(big.NewInt(v.Int64())), nil }, nil
		case parquet.FixedLenByteArray, parquet.ByteArray:
			return func(v parquet.Value) (any, error) { return rescale(fromTwosComplement(v.ByteArray())), nil }, nil
		}
	}
	return bad()
}

// isPlainInt reports whether a logical type leaves an integer column a
// plain signed integer (none, or INT(n, signed)).
func isPlainInt(lt any) bool {
	switch x := lt.(type) {
	case nil:
		return true
	case *format.IntType:
		return x.IsSigned
	}
	return false
}

// intWidth is the bit width of an integer column: its INT(n) annotation or
// its physical size; 999 for non-integers.
func intWidth(phys parquet.Kind, lt any) int {
	if it, ok := lt.(*format.IntType); ok {
		return int(it.BitWidth)
	}
	switch phys {
	case parquet.Int32:
		return 32
	case parquet.Int64:
		return 64
	}
	return 999
}

func dateOf(days int32) time.Time {
	return time.Unix(int64(days)*86400, 0).UTC()
}
