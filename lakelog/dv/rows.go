package dv

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

// Rows iterates the live rows of a data file: datafile.Rows without the
// rows the file's deletion vector deletes. Not safe for concurrent use.
type Rows struct {
	rows    *datafile.Rows
	path    string
	deleted []uint64
	pos     uint64 // position of the next physical row
	d       int    // index of the first deleted position >= pos
	err     error
}

// ReadFile is datafile.ReadFile for a table that may have deletion
// vectors: rows add.DeletionVector deletes are skipped. r may be nil (a
// Reader per call); pass one Reader per table scan to read each DV file
// once.
func ReadFile(ctx context.Context, store blob.Store, r *Reader, add *lakelog.Add, schema *lakelog.StructType) (*Rows, error) {
	if r == nil {
		r = NewReader(store)
	}
	deleted, err := r.Read(ctx, add.DeletionVector)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", add.Path, err)
	}
	rows, err := datafile.ReadFile(ctx, store, add, schema)
	if err != nil {
		return nil, err
	}
	return &Rows{rows: rows, path: add.Path, deleted: deleted}, nil
}

// Next returns the next live row, or false at the end or on an error (see
// Err).
func (r *Rows) Next() ([]any, bool) {
	for {
		row, ok := r.rows.Next()
		if !ok {
			if r.err == nil && r.rows.Err() == nil && len(r.deleted) > 0 && r.deleted[len(r.deleted)-1] >= r.pos {
				r.err = fmt.Errorf("file %s: deletion vector deletes position %d of %d rows: %w", r.path, r.deleted[len(r.deleted)-1], r.pos, ErrCorrupt)
			}
			return nil, false
		}
		pos := r.pos
		r.pos++
		for r.d < len(r.deleted) && r.deleted[r.d] < pos {
			r.d++
		}
		if r.d < len(r.deleted) && r.deleted[r.d] == pos {
			continue
		}
		return row, true
	}
}

// Err returns the error that stopped Next, if any.
func (r *Rows) Err() error {
	if err := r.rows.Err(); err != nil {
		return err
	}
	return r.err
}

// Len returns the number of live rows: the file's rows minus the DV's.
func (r *Rows) Len() int { return r.rows.Len() - len(r.deleted) }
