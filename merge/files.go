package merge

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/lakelog/dv"
)

// This file reads and writes the data files of SCD1 (and tombstone)
// tables. Rows are written sorted by key and cut into files so that no new
// file's key range overlaps a file left untouched: that keeps the ranges
// tight, so the next merge rewrites only files that can hold its keys.

// readRows reads every live row of the given files by schema: rows a
// file's deletion vector deletes are skipped. Every read of SCD1 (and
// tombstone) data files in the merge goes through here or scanFile.
func readRows(ctx context.Context, store blob.Store, files []*lakelog.Add, schema *lakelog.StructType, fn func(row []any)) error {
	dvs := dv.NewReader(store)
	for _, f := range files {
		deleted, err := dvs.Read(ctx, f.DeletionVector)
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		if _, err := scanFile(ctx, store, deleted, f, schema, func(_ uint64, row []any) { fn(row) }); err != nil {
			return err
		}
	}
	return nil
}

// scanFile calls fn with each row of f by schema (which may name only some
// of the table's columns) and its position in the file, skipping the
// sorted positions in deleted. It returns the file's physical row count.
func scanFile(ctx context.Context, store blob.Store, deleted []uint64, f *lakelog.Add, schema *lakelog.StructType, fn func(pos uint64, row []any)) (uint64, error) {
	rows, err := datafile.ReadFile(ctx, store, f, schema)
	if err != nil {
		return 0, err
	}
	var pos uint64
	d := 0
	for ; ; pos++ {
		row, ok := rows.Next()
		if !ok {
			break
		}
		for d < len(deleted) && deleted[d] < pos {
			d++
		}
		if d < len(deleted) && deleted[d] == pos {
			continue
		}
		fn(pos, row)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(deleted) > 0 && deleted[len(deleted)-1] >= pos {
		return 0, fmt.Errorf("file %s: deletion vector deletes position %d of %d rows", f.Path, deleted[len(deleted)-1], pos)
	}
	return pos, nil
}

// fileLimits bound one output data file.
type fileLimits struct {
	rows           int
	bytes          int64
	numIndexedCols int
}

// writeSorted writes rows (already sorted by key; key0 gives a row's first
// key value) into data files. bounds are the sorted minimum first-key
// values of the files this commit keeps: a file never spans one, so it
// never overlaps a kept file.
func writeSorted(ctx context.Context, store blob.Store, schema *lakelog.StructType, rows [][]any, key0 func([]any) any, bounds []any, lim fileLimits, opts datafile.Options) ([]*lakelog.Add, error) {
	var adds []*lakelog.Add
	var w *datafile.Writer
	seg := -1
	opts.NumIndexedCols = lim.numIndexedCols
	flush := func() error {
		if w == nil {
			return nil
		}
		add, err := w.Finish(ctx, store, "")
		if err != nil {
			return err
		}
		adds = append(adds, add)
		w = nil
		return nil
	}
	for _, row := range rows {
		k := key0(row)
		s := sort.Search(len(bounds), func(i int) bool { return compareValues(bounds[i], k) > 0 })
		if w != nil && (s != seg || w.Rows() >= int64(lim.rows) || w.EstimatedSize() >= lim.bytes) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		seg = s
		if w == nil {
			var err error
			if w, err = datafile.NewWriter(schema, opts); err != nil {
				return nil, err
			}
		}
		if err := w.Write(row); err != nil {
			return nil, fmt.Errorf("write row: %w", err)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return adds, nil
}

// keyColumn is a primary-key column of an SCD1 table.
type keyColumn struct {
	name string
	typ  lakelog.DataType
}

// affectedFiles splits files into those that can hold one of keys (sorted
// by compareKeys) and the others. A file can hold a key only if every key
// column's value lies in that column's stats range: the first column
// narrows the candidates by binary search, the others (composite keys)
// rule out the rest, e.g. keys of other tenants within a tenant's file.
// keptBounds are the sorted first-column minimums of the kept files.
func affectedFiles(files []*lakelog.Add, cols []keyColumn, keys [][]any) (hit, kept []*lakelog.Add, keptBounds []any) {
	ranges := make([]keyRange, len(cols))
	for _, f := range files {
		for c, col := range cols {
			ranges[c] = fileKeyRange(f, col.name, col.typ)
		}
		if !ranges[0].ok {
			hit = append(hit, f)
			continue
		}
		i := sort.Search(len(keys), func(i int) bool { return compareValues(keys[i][0], ranges[0].min) >= 0 })
		holds := false
		for ; i < len(keys) && compareValues(keys[i][0], ranges[0].max) <= 0 && !holds; i++ {
			holds = true
			for c := 1; c < len(cols); c++ {
				if !ranges[c].mayContain(keys[i][c]) {
					holds = false
					break
				}
			}
		}
		if holds {
			hit = append(hit, f)
			continue
		}
		kept = append(kept, f)
		keptBounds = append(keptBounds, ranges[0].min)
	}
	slices.SortFunc(keptBounds, compareValues)
	return hit, kept, keptBounds
}

// truncatedFiles is affectedFiles for a merge that applies a TRUNCATE at
// ordering key truncAt: files whose _sluice_ordering_key range can hold an
// older row are rewritten too.
func truncatedFiles(files []*lakelog.Add, cols []keyColumn, keys [][]any, truncAt string) (hit []*lakelog.Add, keptBounds []any) {
	hit, kept, _ := affectedFiles(files, cols, keys)
	for _, f := range kept {
		if r := fileKeyRange(f, ColOrderingKey, lakelog.TypeString); !r.ok || compareValues(r.min, truncAt) < 0 {
			hit = append(hit, f)
			continue
		}
		if r := fileKeyRange(f, cols[0].name, cols[0].typ); r.ok {
			keptBounds = append(keptBounds, r.min)
		}
	}
	slices.SortFunc(keptBounds, compareValues)
	return hit, keptBounds
}

func paths(files []*lakelog.Add) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}
