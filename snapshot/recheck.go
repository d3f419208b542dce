package snapshot

import (
	"context"
	"fmt"
)

// The recheck pass closes the window that rotating views leave for change
// events that lack columns (PostgreSQL: an UPDATE leaves an unchanged
// TOASTed value out). Merge carries a missing column forward from the
// row's previous version, and for a primary-key change from the row under
// the OLD key. A table read chunk by chunk in several views can miss a
// row: a key change at E moves it from a chunk read after E (the old key
// is gone there) to a chunk read before E (the new key is not there yet).
// The change then has nothing to carry forward from, and the column ends
// NULL.
//
// The pass: when the plan is made, before the table's first view opens,
// the Rechecker takes a mark M of its row-version order. After every
// key-range chunk is committed, one fresh view V_f (opened after every
// view the chunks used, so at a position after all of them) reads again
// every row whose current version was written after M, and commits them
// like a chunk, at V_f's position. Then every row present at V_f is in
// the snapshot:
//   - a row version written after M is read by the pass, at V_f, with all
//     its columns;
//   - a row version written before M and still present at V_f was present,
//     unchanged, in every view the chunks used (all opened after M), so
//     the chunk covering its key read it.
//
// As with a table read in one view, a change after V_f then carries
// forward from a snapshot row, and a change before V_f is older than the
// pass's copy of every row it wrote; the merge keeps the newer. Re-reading
// more rows than needed is harmless (fresher snapshot rows), re-reading
// fewer is not, so a Rechecker may select conservatively.
//
// The pass is chunk len(chunks) of the plan (plan.RecheckMark), committed
// with its own txn appId, so merge holds the table back until it has run,
// and a rerun after a kill runs it from the plan's mark. It is planned
// only for tables of more than one chunk of a Rechecker source. When this
// run read every key-range chunk itself, in one view (a small table, or a
// table read in one view, Config.PartialImages), there is nothing to
// recheck: the pass commits without reading. Chunks committed by an
// earlier run were read in other views, so then it reads.

// Rechecker is a Source whose tables, read chunk by chunk in several
// views, need the recheck pass: their change events can lack columns
// (snapshot/postgres: unchanged TOAST). Its Views implement RecheckReader.
type Rechecker interface {
	Source
	// RecheckMark returns an opaque mark of the source's current point in
	// its row-version order (PostgreSQL: the oldest transaction id still
	// running). Run stores it in the table's plan before the table's
	// first view opens. Safe for concurrent use; holds nothing after it
	// returns.
	RecheckMark(ctx context.Context) (string, error)
}

// RecheckReader is implemented by the Views of a Rechecker.
type RecheckReader interface {
	// ReadChanged reads, in this view, every row of t (matching t.Where)
	// whose current version was written after mark (from RecheckMark)
	// was taken, in no particular order, and calls emit with each as
	// View.ReadChunk does. It may read more rows than that, never fewer.
	// It reads in one transaction, so its cost is one pass over t.
	ReadChanged(ctx context.Context, t *Table, mark string, emit func(row []any) error) error
}

// claimRecheck says whether the caller, which just committed a chunk of
// tr, runs tr's recheck pass: it is planned, not committed, not claimed
// by another worker, and every key-range chunk is committed.
func (rn *runner) claimRecheck(tr *tableRun) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if tr.recheck < 0 || tr.recheckDone || tr.recheckClaimed || tr.done < len(tr.chunks) {
		return false
	}
	tr.recheckClaimed = true
	return true
}

// recheckTable runs tr's recheck pass (see above).
func (rn *runner) recheckTable(ctx context.Context, tr *tableRun) error {
	name := tr.t.ID.String()
	rn.mu.Lock()
	oneView := tr.rep.Skipped == 0 && len(tr.views) == 1
	rn.mu.Unlock()
	switch {
	case oneView:
		rn.log.Info("snapshot recheck not needed: every chunk was read in one view", "table", name)
		return rn.commitChunk(ctx, tr, tr.recheck, nil, 0, 0, "")
	case rn.cfg.SkipRecheck:
		rn.log.Warn("snapshot recheck skipped (test switch): a key change between two views' chunks can lose unchanged columns", "table", name)
		return rn.commitChunk(ctx, tr, tr.recheck, nil, 0, 0, "")
	}
	return rn.inOwnView(ctx, name, "table "+name+" recheck", func(v View) error {
		rr, ok := v.(RecheckReader)
		if !ok {
			return fmt.Errorf("table %s recheck: the source's view cannot re-read changed rows", name)
		}
		err := rn.load(ctx, tr, tr.recheck, false, v, func(emit func([]any) error) error {
			return rr.ReadChanged(ctx, tr.t, tr.plan.RecheckMark, emit)
		})
		if err != nil {
			return err
		}
		rn.mu.Lock()
		rows := tr.rep.RecheckRows
		rn.mu.Unlock()
		pos, _ := v.Position().OrderingKey() // load already checked it
		rn.log.Info("snapshot recheck re-read the rows written since the table's snapshot began, in one new view (a key change between two views' chunks would otherwise lose unchanged columns)",
			"table", name, "rows", rows, "position", pos, "mark", tr.plan.RecheckMark)
		return nil
	})
}
