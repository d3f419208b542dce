package merge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/schemas"
)

// A Run holds every event it reads in memory until its tables are
// committed, so a large backlog (a merge that has not run for long, a
// Debezium snapshot read through Kafka) is merged in passes: consecutive raw version ranges (from, e1], (e1, e2], ... of at
// most Config.MaxPassBytes of raw data files each, every pass committing
// each table it has events of with txn = its end, as if a Run had stopped
// at that raw version.
//
// Passes give the tables one pass would, because what a change does
// depends on ordering keys, not on which batch carries it (doc.go): a
// change at or below its row's, its tombstone's or the table's
// TruncatedAt ordering key is skipped in a later pass just as it is within
// one pass; a delete leaves the same tombstone; a TRUNCATE removes (hard)
// the rows older than it whether they came in an earlier pass or were
// skipped in the same one; deletion vectors change the files, not the
// rows. Snapshot rows are whole rows, but a sluice snapshot writes them
// after newer changes of their keys that may leave columns out, so no
// pass ends before its last commit (planPasses); the first merge after a
// large sluice snapshot is one pass over it. What differs is what differs
// between two Runs at the same raw version, for changes that reach the
// raw table after a newer change of their key (replays of other than the
// latest change, key changes sent as a delete and a create in other raw
// versions): one pass applies the older change first, so a newer change
// that leaves columns out (unchanged TOAST, a minimal row image) takes
// them from it, and a soft delete keeps its values; a pass after the
// newer change skips it. Likewise a soft-delete table keeps, marked
// deleted with op "t", a row that a later pass's TRUNCATE empties (one
// pass never inserts it), and types inferred for schemaless events come
// from each pass's values.
//
// Tables with no events in a pass are committed by the last pass only
// (their txn jumps to its end), not with an empty commit per pass.
//
// A crash between passes is safe: the tables committed in the last pass
// that completed have txn = its end, the rest (idle ones, ones a crash in
// a pass's middle did not reach) an earlier one, and the next Run starts after the
// least of them; each table skips what it has merged. A table that
// fails in a pass is left out of the later passes, which would otherwise
// commit past its unmerged versions; it is retried by the next Run.
type passes struct {
	raw         *lakelog.Table
	rawSnap     *lakelog.Snapshot
	root        blob.Store // TablesRoot in the warehouse: the catalog
	cat         *catalog
	merged      map[schemas.TableID]int64 // raw version each table has merged: the catalog's at the start, then each pass's commits
	topicMerged map[string]int64
	cfg         *Config
	openTable   func(schemas.TableID) *lakelog.Table
	now         time.Time
	logger      *slog.Logger
	rep         *Report
	failed      map[schemas.TableID]bool
	from        int64 // the run reads raw versions after it
	// commits are those of a run of one pass as planPasses read them,
	// so that the scan does not read them again; nil otherwise.
	commits []lakelog.Commit
}

// maxPlannedCommits bounds the commits planPasses keeps for the scan.
const maxPlannedCommits = 1000

// planPasses returns the last raw version of each pass over (from, to]:
// consecutive ranges whose raw data files (the ones scanRaw reads) add up
// to at most maxBytes, a version larger than that on its own. It reads
// the raw log of (from, to], not the data files; the result ends with to.
// When that is one pass of at most maxPlannedCommits commits, it returns
// them too.
func planPasses(ctx context.Context, raw *lakelog.Table, from, to int64, topicMerged map[string]int64, maxBytes int64) ([]int64, []lakelog.Commit, error) {
	if from >= to {
		return []int64{to}, nil, nil
	}
	var ends []int64
	var acc int64
	prev := from
	var commits []lakelog.Commit
	keep := true
	lastSnapshot := int64(-1)
	for c, err := range raw.Commits(ctx, from, to) {
		if err != nil {
			return nil, nil, fmt.Errorf("raw table: %w", err)
		}
		wanted := wantedTopics(topicMerged, c.Version)
		var size int64
		for _, a := range c.Actions {
			if a.Txn != nil && strings.HasPrefix(a.Txn.AppID, schemas.SnapshotAppIDPrefix) {
				lastSnapshot = c.Version
			}
			if a.Add == nil || !a.Add.DataChange {
				continue
			}
			if len(topicMerged) > 0 && !topicInRange(a.Add, wanted) {
				continue
			}
			size += a.Add.Size
		}
		if acc > 0 && acc+size > maxBytes {
			ends = append(ends, prev)
			acc = 0
		}
		acc += size
		prev = c.Version
		if keep = keep && len(ends) == 0 && len(commits) < maxPlannedCommits; keep {
			commits = append(commits, c)
		} else {
			commits = nil
		}
	}
	// Snapshot rows are written late with old positions: a change that
	// leaves columns out (unchanged TOAST, a minimal row image) and is
	// newer than a key's snapshot row may sit in an earlier raw version
	// than that row. Merged in an earlier pass, it would become the row
	// with those columns NULL and the snapshot row would lose to it. So no
	// pass ends before the last snapshot commit: the first pass holds the
	// snapshot and every change that may depend on it, as one Run would.
	// (Found by make soak: TestE2ESnapshotMariaDBUnderWrites, 1.2M rows,
	// minimal row images.)
	ends = slices.DeleteFunc(ends, func(v int64) bool { return v < lastSnapshot })
	if len(ends) > 0 {
		commits = nil
	}
	return append(ends, to), commits, nil
}

// wantedTopics lists the topics some of whose tables have not merged raw
// version v.
func wantedTopics(topicMerged map[string]int64, v int64) []string {
	var wanted []string
	for t, mv := range topicMerged {
		if mv < v {
			wanted = append(wanted, t)
		}
	}
	return wanted
}

// run merges (from, ends[0]], (ends[0], ends[1]], ... in turn and adds
// up the table reports.
func (p *passes) run(ctx context.Context, from int64, ends []int64) error {
	var errs []error
	byTable := map[string]*TableReport{}
	p.from = from
	lo := from
	for i, hi := range ends {
		if len(ends) > 1 {
			p.logger.Info("merge pass", "pass", i+1, "of", len(ends), "raw_from", lo, "raw_to", hi)
		}
		trs, err := p.pass(ctx, lo, hi, i == len(ends)-1)
		p.rep.Passes++
		for _, tr := range trs {
			if tr.Err != nil {
				errs = append(errs, tr.Err)
			}
			if sum := byTable[tr.Table]; sum != nil {
				sum.add(tr)
			} else {
				byTable[tr.Table] = &tr
			}
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
		lo = hi
	}
	p.rep.Tables = p.rep.Tables[:0]
	for _, tr := range byTable {
		p.rep.Tables = append(p.rep.Tables, *tr)
	}
	slices.SortFunc(p.rep.Tables, func(a, b TableReport) int { return strings.Compare(a.Table, b.Table) })
	return errors.Join(errs...)
}

// add folds the report of a later pass into r.
func (r *TableReport) add(next TableReport) {
	r.ToRawVersion = next.ToRawVersion
	r.ChangesRead += next.ChangesRead
	r.ChangesApplied += next.ChangesApplied
	r.ChangesSkipped += next.ChangesSkipped
	r.RowsInserted += next.RowsInserted
	r.RowsUpdated += next.RowsUpdated
	r.RowsDeleted += next.RowsDeleted
	r.RowsRewritten += next.RowsRewritten
	r.RowsWritten += next.RowsWritten
	r.FilesAdded += next.FilesAdded
	r.FilesRemoved += next.FilesRemoved
	r.RowsScanned += next.RowsScanned
	r.RowsDeletionVectored += next.RowsDeletionVectored
	r.FilesDeletionVectored += next.FilesDeletionVectored
	if next.Version >= 0 {
		r.Version, r.OrderingKey, r.SourceTsMs = next.Version, next.OrderingKey, next.SourceTsMs
	}
	if next.Err != nil {
		r.Err = next.Err
	}
}

// pass merges the raw versions (from, to] into every selected table that
// has not merged them and did not fail in an earlier pass; before the
// last pass, only into those with events in the range. The error is a
// scan error or the context's; table errors are in the reports.
func (p *passes) pass(ctx context.Context, from, to int64, last bool) ([]TableReport, error) {
	commits := p.raw.Commits(ctx, from, to)
	if p.commits != nil {
		commits = func(yield func(lakelog.Commit, error) bool) {
			for _, c := range p.commits {
				if !yield(c, nil) {
					return
				}
			}
		}
	}
	events, learned, err := scanRaw(ctx, p.raw, p.rawSnap, from, to, commits, p.topicMerged, p.cfg, p.rep)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if changed := p.cat.learn(learned); changed {
		if err := saveCatalog(ctx, p.root, p.cat); err != nil {
			p.logger.Warn("merge: catalog not saved; the next run reads more raw data", "err", err)
		}
	}

	ids := map[schemas.TableID]bool{}
	for id := range events {
		ids[id] = true
	}
	for id := range p.merged {
		ids[id] = true
	}
	order := make([]schemas.TableID, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	slices.SortFunc(order, func(a, b schemas.TableID) int { return strings.Compare(a.String(), b.String()) })
	var out []TableReport
	for _, id := range order {
		if v, ok := p.merged[id]; ok && v >= to || p.failed[id] {
			continue
		}
		if !last && len(events[id]) == 0 {
			// Nothing to merge: the last pass commits its progress. A
			// commit per pass would cost every idle table a Delta commit
			// per pass; after a crash, the next run reads the log of the
			// raw versions since, but skips their files by topic.
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		job := &tableJob{id: id, tc: p.cfg.tableConfig(id), cfg: p.cfg, table: p.openTable(id), events: events[id], from: p.from, to: to, now: p.now, logger: p.logger}
		tr := job.run(ctx)
		if tr.Err != nil {
			p.failed[id] = true
			p.logger.Error("merge failed", "table", id.String(), "err", tr.Err)
		} else {
			if tr.Version >= 0 {
				// committed at to: later passes continue it even when
				// they hold none of its events (it was new to the catalog)
				p.merged[id] = to
			}
			p.logger.Info("merged", "table", id.String(), "raw_from", tr.FromRawVersion, "raw_to", tr.ToRawVersion,
				"changes", tr.ChangesRead, "inserted", tr.RowsInserted, "updated", tr.RowsUpdated, "deleted", tr.RowsDeleted,
				"rewritten", tr.RowsRewritten, "version", tr.Version)
		}
		out = append(out, tr)
	}
	return out, nil
}
