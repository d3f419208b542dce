package snapshot

import (
	"context"
	"fmt"
)

// PartialImages chooses which tables Run reads in one view: all their
// chunks at one position, read in sequence by one worker, in a view that
// is never aged out (Config.ViewMaxAge does not apply to it). Other tables
// still run in parallel, chunk by chunk, in the shared or pooled views.
//
// Why: when a table's change events may lack columns (a minimal row
// image), a primary-key change takes the missing columns from the row
// the SCD1 table holds under the old key. With chunks read at different
// positions, a key change at E can move a row from a chunk read after E
// (the old key is gone) to a chunk read before E (the new key is not there
// yet): no chunk holds the row, and the change has nothing to carry
// forward. In one view at P, every row present at P is read: a change
// after P carries forward from the snapshot row of its old key, and a
// change before P is older than every row read at P.
type PartialImages string

const (
	// PartialImagesAuto reads a table in one view when its Source says
	// its change events may lack columns (Table.PartialImages).
	PartialImagesAuto PartialImages = "auto"
	// PartialImagesAlways reads every table in one view (for example a
	// MySQL/MariaDB writer sets binlog_row_image=MINIMAL per session,
	// which the server's global setting does not show). On PostgreSQL it
	// keeps one exported snapshot, and so the xmin horizon, for a whole
	// table's read.
	PartialImagesAlways PartialImages = "always"
	// PartialImagesNever reads every table chunk by chunk in the shared
	// views, even when its events may lack columns (not exact then).
	PartialImagesNever PartialImages = "never"
)

// oneView says whether t's chunks are all read in one view.
func (m PartialImages) oneView(t *Table) bool {
	switch m {
	case PartialImagesAlways:
		return true
	case PartialImagesNever:
		return false
	}
	return t.PartialImages
}

func (m PartialImages) valid() error {
	switch m {
	case PartialImagesAuto, PartialImagesAlways, PartialImagesNever:
		return nil
	}
	return fmt.Errorf("snapshot config: partial images %q: want %q, %q or %q", m, PartialImagesAuto, PartialImagesAlways, PartialImagesNever)
}

// oneViewOrder returns the chunks a one-view table reads this run, in
// order, given which of its chunks earlier runs committed. None committed
// or all committed: the missing ones (none when complete). Some committed:
// ALL chunks, the committed ones first. Rows an earlier run read at P and
// rows read now at P' could straddle a key change between them (the
// reason for one view); re-read at P', every row present at P' is in the
// snapshot, and the older copies at P lose to them in the merge. The
// missing chunks come last so that the table stays "in progress" (some
// chunk without a commit; merge holds it back) until every chunk has been
// read at P'.
func oneViewOrder(chunks []Chunk, committed func(Chunk) bool) (order []Chunk, reread int) {
	var done, missing []Chunk
	for _, c := range chunks {
		if committed(c) {
			done = append(done, c)
		} else {
			missing = append(missing, c)
		}
	}
	if len(done) == 0 || len(missing) == 0 {
		return missing, 0
	}
	return append(done, missing...), len(done)
}

// oneViewTable reads the chunks of w, all of one table, in sequence in one
// view of their own, opened for them and closed after the last.
func (rn *runner) oneViewTable(ctx context.Context, w work) error {
	name := w.table.t.ID.String()
	return rn.inOwnView(ctx, name, "table "+name, func(v View) error {
		rn.log.Info("snapshot view opened for one table (its change events may lack columns: all its chunks are read at this one position)",
			"table", name, "position", v.Position(), "chunks", len(w.chunks))
		for _, c := range w.chunks {
			if err := rn.readChunk(ctx, w.table, c, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// inOwnView runs read in a view opened for it alone (not one of the
// rotating views of views.go) and closes the view after. what starts the
// open error; table names the view in the close warning.
func (rn *runner) inOwnView(ctx context.Context, table, what string, read func(View) error) error {
	v, err := rn.src.OpenView(ctx)
	if err != nil {
		return fmt.Errorf("%s: open view: %w", what, err)
	}
	defer func() {
		if err := v.Close(); err != nil {
			rn.log.Warn("close snapshot view", "table", table, "err", err)
		}
	}()
	return read(v)
}
