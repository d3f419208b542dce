package merge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
)

// scanIntKeys is scanFile for the one case the deletion-vector scan makes
// hot: a single INT32/INT64 key column read alone. It decodes the column
// with parquet-go's typed readers instead of a value per row; datafile has
// no column-only API (TODO(datafile): a typed single-column read would let
// this go). ok is false, with nothing read, when the file's column is not
// a plain required or optional INT32/INT64 column; the caller then uses
// scanFile. Positions in deleted are skipped, as scanFile does.
func scanIntKeys(ctx context.Context, store blob.Store, deleted []uint64, f *lakelog.Add, column string, fn func(pos uint64, key int64)) (n uint64, ok bool, err error) {
	key, err := url.PathUnescape(f.Path)
	if err != nil {
		return 0, false, fmt.Errorf("data file path %q: %w", f.Path, err)
	}
	rc, err := store.Get(ctx, key)
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", key, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", key, err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, false, fmt.Errorf("open parquet %s: %w", key, err)
	}
	col := pf.Root().Column(column)
	if col == nil || !col.Leaf() || col.MaxRepetitionLevel() > 0 {
		return 0, false, nil
	}
	kind := col.Type().Kind()
	if kind != parquet.Int64 && kind != parquet.Int32 {
		return 0, false, nil
	}
	var pos uint64
	d := 0
	emit := func(v int64) {
		for d < len(deleted) && deleted[d] < pos {
			d++
		}
		if d >= len(deleted) || deleted[d] != pos {
			fn(pos, v)
		}
		pos++
	}
	i64 := make([]int64, 4096)
	i32 := make([]int32, 4096)
	vals := make([]parquet.Value, 1024)
	for _, rg := range pf.RowGroups() {
		pages := rg.ColumnChunks()[col.Index()].Pages()
		for {
			p, err := pages.ReadPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pages.Close()
				return 0, true, fmt.Errorf("%s: column %s: %w", key, column, err)
			}
			err = readIntPage(p, kind, i64, i32, vals, emit)
			parquet.Release(p)
			if err != nil {
				pages.Close()
				return 0, true, fmt.Errorf("%s: column %s: %w", key, column, err)
			}
		}
		pages.Close()
	}
	if len(deleted) > 0 && deleted[len(deleted)-1] >= pos {
		return 0, true, fmt.Errorf("file %s: deletion vector deletes position %d of %d rows", f.Path, deleted[len(deleted)-1], pos)
	}
	return pos, true, nil
}

// readIntPage hands every value of one page to emit.
func readIntPage(p parquet.Page, kind parquet.Kind, i64 []int64, i32 []int32, vals []parquet.Value, emit func(int64)) error {
	vr := p.Values()
	if r, ok := vr.(parquet.Int64Reader); ok && kind == parquet.Int64 && p.NumNulls() == 0 {
		for {
			n, err := r.ReadInt64s(i64)
			for _, v := range i64[:n] {
				emit(v)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	if r, ok := vr.(parquet.Int32Reader); ok && kind == parquet.Int32 && p.NumNulls() == 0 {
		for {
			n, err := r.ReadInt32s(i32)
			for _, v := range i32[:n] {
				emit(int64(v))
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	for {
		n, err := vr.ReadValues(vals)
		for _, v := range vals[:n] {
			if v.IsNull() {
				return errors.New("null primary-key value")
			}
			if kind == parquet.Int64 {
				emit(v.Int64())
			} else {
				emit(int64(v.Int32()))
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
