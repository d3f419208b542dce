package schemas

import (
	"fmt"
	"strings"
)

// DeltaColumn is one column of a Delta table schema, as plain data.
type DeltaColumn struct {
	Name     string
	Type     DeltaType
	Nullable bool
}

// TypeChange records a widened column, for Delta's delta.typeChanges field
// metadata ({"fromType":…,"toType":…}).
type TypeChange struct {
	Column   string
	From, To DeltaType
}

// Evolution is what it takes to move a table from its schema to one that
// accepts rows of the new source schema.
type Evolution struct {
	// Columns is the resulting table schema: old columns in place (widened
	// or relaxed to nullable as needed), then new columns, nullable, at the
	// end in source order.
	Columns []DeltaColumn
	Added   []DeltaColumn
	// Widened lists type changes; they need the typeWidening table feature.
	Widened []TypeChange
	// Relaxed names columns that became nullable.
	Relaxed []string
	// Missing names table columns the new schema lacks (dropped at the
	// source). They stay in the table and read as null from now on; dropping
	// data is never automatic.
	Missing []string
}

// Changed reports whether the table schema must change.
func (e Evolution) Changed() bool {
	return len(e.Added) > 0 || len(e.Widened) > 0 || len(e.Relaxed) > 0
}

// IncompatibleChangeError is a source schema change the table cannot follow
// without losing or corrupting data, e.g. string → long or decimal(10,2) →
// decimal(10,4).
type IncompatibleChangeError struct {
	Column           string
	OldType, NewType DeltaType
}

func (e *IncompatibleChangeError) Error() string {
	return fmt.Sprintf("column %q: cannot change type %s to %s", e.Column, e.OldType, e.NewType)
}

// Evolve compares a table schema (old) with the schema new source rows need
// (new). Columns match by name, case-insensitively (Delta's rule). The rules:
//   - a new column is added at the end, nullable;
//   - same type: nothing; new type narrower than the table's (the table's
//     type already holds every value, e.g. table long, source integer):
//     nothing;
//   - new type wider by Delta type widening (CanWiden): the column widens;
//   - NOT NULL → nullable: relaxed; nullable → NOT NULL: nothing (the table
//     stays nullable);
//   - a table column missing from new is kept (Missing);
//   - anything else: *IncompatibleChangeError naming the column and types.
func Evolve(old, new []DeltaColumn) (Evolution, error) {
	var ev Evolution
	ev.Columns = make([]DeltaColumn, len(old))
	copy(ev.Columns, old)
	index := make(map[string]int, len(old))
	for i, c := range old {
		index[strings.ToLower(c.Name)] = i
	}
	seen := make(map[string]bool, len(new))
	for _, nc := range new {
		key := strings.ToLower(nc.Name)
		if seen[key] {
			return Evolution{}, fmt.Errorf("column %q: duplicate in new schema", nc.Name)
		}
		seen[key] = true
		i, ok := index[key]
		if !ok {
			add := DeltaColumn{Name: nc.Name, Type: nc.Type, Nullable: true}
			ev.Added = append(ev.Added, add)
			ev.Columns = append(ev.Columns, add)
			continue
		}
		cur := &ev.Columns[i]
		switch {
		case cur.Type.Equal(nc.Type):
		case CanWiden(nc.Type, cur.Type):
			// the table's type already holds every new value
		case CanWiden(cur.Type, nc.Type):
			ev.Widened = append(ev.Widened, TypeChange{Column: cur.Name, From: cur.Type, To: nc.Type})
			cur.Type = nc.Type
		default:
			return Evolution{}, &IncompatibleChangeError{Column: cur.Name, OldType: cur.Type, NewType: nc.Type}
		}
		if nc.Nullable && !cur.Nullable {
			cur.Nullable = true
			ev.Relaxed = append(ev.Relaxed, cur.Name)
		}
	}
	for _, c := range old {
		if !seen[strings.ToLower(c.Name)] {
			ev.Missing = append(ev.Missing, c.Name)
		}
	}
	return ev, nil
}

var integralRank = map[string]int{DeltaByte: 1, DeltaShort: 2, DeltaInteger: 3, DeltaLong: 4}

// CanWiden reports whether Delta type widening (typeWidening feature) allows
// changing a column from type from to type to: byte→short→integer→long,
// float→double, byte/short/integer→double, date→timestamp_ntz,
// decimal(p,s)→decimal(p+k1,s+k2) with k1≥k2≥0, byte/short/integer→
// decimal(10+k1,k2), long→decimal(20+k1,k2), and arrays whose elements widen.
// Equal types are not a widening.
func CanWiden(from, to DeltaType) bool {
	if from.Equal(to) {
		return false
	}
	fr, fInt := integralRank[from.Name]
	switch to.Name {
	case DeltaShort, DeltaInteger, DeltaLong:
		return fInt && fr < integralRank[to.Name]
	case DeltaDouble:
		return from.Name == DeltaFloat || (fInt && fr <= integralRank[DeltaInteger])
	case DeltaTimestampNtz:
		return from.Name == DeltaDate
	case DeltaDecimal:
		switch {
		case from.Name == DeltaDecimal:
			k1, k2 := to.Precision-from.Precision, to.Scale-from.Scale
			return k2 >= 0 && k1 >= k2
		case fInt && from.Name != DeltaLong:
			return to.Precision-to.Scale >= 10
		case from.Name == DeltaLong:
			return to.Precision-to.Scale >= 20
		}
	case DeltaArray:
		if from.Name != DeltaArray || from.Element == nil || to.Element == nil {
			return false
		}
		return CanWiden(*from.Element, *to.Element)
	}
	return false
}
