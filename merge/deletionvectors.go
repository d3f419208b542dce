package merge

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/schemas"
)

// Deletion vectors (opt-in per table, TableConfig.DeletionVectors) make a
// random change cost about one row instead of one file: a hit file has
// only its key, _sluice_ordering_key (and _sluice_deleted) columns read to
// find the changed rows' positions; those positions are added to the
// file's deletion vector (remove of the old add, add of the same path with
// the new DV) and the changed rows' new versions go to new files with the
// inserts. A hit file holding none of the changed keys is left as it is.
//
// A file is rewritten (copy-on-write, which also drops its DV) instead
// when its deleted share would exceed dvMaxShare, when a change to one of
// its rows needs the old row's other columns (unavailable TOAST or a
// minimal row image, soft deletes, the new key of a key change), or when
// the merge rewrites files anyway (type widening, TRUNCATE).
//
// numRecords stays the physical row count (§Deletion Vectors); the stats
// of a file with a DV are marked tightBounds=false, as Spark does, since
// min/max may belong to deleted rows.

// dvMaxShare is the largest share of a file's rows its DV may delete;
// past it the file is rewritten so that reads do not decode dead rows.
const dvMaxShare = 0.2

// withDeletionVectors adds the deletionVectors reader and writer feature
// (protocol (3,7)) to p.
func withDeletionVectors(p lakelog.Protocol) lakelog.Protocol {
	p.MinReaderVersion, p.MinWriterVersion = 3, 7
	if !slices.Contains(p.ReaderFeatures, lakelog.FeatureDeletionVectors) {
		p.ReaderFeatures = append(slices.Clone(p.ReaderFeatures), lakelog.FeatureDeletionVectors)
	}
	if !slices.Contains(p.WriterFeatures, lakelog.FeatureDeletionVectors) {
		p.WriterFeatures = append(slices.Clone(p.WriterFeatures), lakelog.FeatureDeletionVectors)
	}
	return p
}

// dvFile is a hit file whose changed rows get a deletion vector.
type dvFile struct {
	add  *lakelog.Add
	old  []uint64 // positions its current DV deletes
	rows []dvRow  // its rows whose key a change touches
}

type dvRow struct {
	pos uint64
	st  *keyState
}

// needsOldRow returns the keys whose changes need the old row's other
// columns, which a key-column scan does not read.
func needsOldRow(changes []change, schema *lakelog.StructType, soft bool) map[string]bool {
	var source []int
	for i, f := range schema.Fields {
		switch f.Name {
		case ColOrderingKey, ColOp, ColSourceTs, ColMergedAt, ColDeleted:
		default:
			source = append(source, i)
		}
	}
	complete := func(ch *change) bool {
		for _, i := range source {
			if _, ok := ch.values[i]; !ok {
				return false
			}
		}
		return true
	}
	need := map[string]bool{}
	incompleteAt := map[string]bool{} // ordering keys of incomplete upserts
	for i := range changes {
		ch := &changes[i]
		switch {
		case ch.op == schemas.OpDelete:
			if soft {
				need[keyString(ch.key)] = true // the row stays, marked deleted
			}
			continue
		case soft && ch.oldKey != nil:
			need[keyString(ch.oldKey)] = true // the old key's row stays, marked deleted
		}
		switch {
		case !complete(ch):
			need[keyString(ch.key)] = true
			incompleteAt[ch.ord] = true
			if ch.oldKey != nil {
				need[keyString(ch.oldKey)] = true
			}
		}
	}
	// The create half of a key change takes missing columns from the
	// deleted old key's row (see removedAt in table.go).
	for i := range changes {
		if ch := &changes[i]; ch.op == schemas.OpDelete && incompleteAt[ch.ord] {
			need[keyString(ch.key)] = true
		}
	}
	return need
}

// planDeletionVectors scans the key columns of the hit files and splits
// them into files to rewrite and files that get a DV. The rows of DV
// files whose key a change touches are put into states as partial rows
// (key, ordering key and deleted flag; the other columns nil), marked
// inDV so that only the touched ones are written out again.
//
// minOrd is the least ordering key of the changes. A file whose
// _sluice_ordering_key stats max is below it holds only rows older than
// every change, so its ordering-key column is not read: the partial rows
// take the stats max, which orders against every change (and against the
// tombstones of a rerun, whose deletes are in the batch too) exactly as
// the true value would. This is the common case of a stream of newer
// changes, and halves the bytes decoded.
func planDeletionVectors(ctx context.Context, store blob.Store, dvs *dv.Reader, hit []*lakelog.Add, schema *lakelog.StructType, keyIdx []int, minOrd string, states map[string]*keyState, need map[string]bool, live func([]any) bool) (rewrite []*lakelog.Add, files []*dvFile, scanned int64, err error) {
	ordIdx := -1
	var extra []int
	for i, f := range schema.Fields {
		switch f.Name {
		case ColOrderingKey:
			ordIdx = i
		case ColDeleted:
			extra = append(extra, i)
		}
	}
	subOf := func(cols []int) *lakelog.StructType {
		sub := &lakelog.StructType{}
		for _, i := range cols {
			sub.Fields = append(sub.Fields, schema.Fields[i])
		}
		return sub
	}
	colsNoOrd := append(slices.Clone(keyIdx), extra...)
	colsOrd := append(slices.Clone(colsNoOrd), ordIdx)
	subNoOrd, subOrd := subOf(colsNoOrd), subOf(colsOrd)
	// A single integer key (the common case) is looked up by value: the
	// scan visits every row of every hit file, and building the key
	// string per row costs more than decoding the column.
	var byInt map[int64]*keyState
	if len(keyIdx) == 1 {
		byInt = make(map[int64]*keyState, len(states))
		for _, st := range states {
			v, ok := asInt(st.key[0])
			if !ok {
				byInt = nil
				break
			}
			byInt[v] = st
		}
	}
	var kbuf []byte
	for _, f := range hit {
		cols, sub, ordMax := colsOrd, subOrd, ""
		if r := fileKeyRange(f, ColOrderingKey, lakelog.TypeString); r.ok && minOrd != "" {
			if m, _ := r.max.(string); m != "" && m < minOrd {
				cols, sub, ordMax = colsNoOrd, subNoOrd, m
			}
		}
		old, err := dvs.Read(ctx, f.DeletionVector)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("file %s: %w", f.Path, err)
		}
		df := &dvFile{add: f, old: old}
		partial := map[*keyState][]any{}
		copyOnWrite := false
		match := func(pos uint64, row []any) {
			kbuf = kbuf[:0]
			for i := range keyIdx {
				kbuf = appendKey(kbuf, row[i])
			}
			st := states[string(kbuf)]
			if st == nil {
				return
			}
			if need[string(kbuf)] {
				copyOnWrite = true
			}
			full := make([]any, len(schema.Fields))
			for i, c := range cols {
				full[c] = row[i]
			}
			if ordMax != "" {
				full[ordIdx] = ordMax
			}
			partial[st] = full
			df.rows = append(df.rows, dvRow{pos: pos, st: st})
		}
		var n uint64
		typed := false
		if byInt != nil && len(cols) == 1 {
			n, typed, err = scanIntKeys(ctx, store, old, f, schema.Fields[keyIdx[0]].Name, func(pos uint64, v int64) {
				if st := byInt[v]; st != nil {
					match(pos, st.key)
				}
			})
		}
		if !typed && err == nil {
			n, err = scanFile(ctx, store, old, f, sub, func(pos uint64, row []any) {
				if byInt != nil {
					if v, ok := asInt(row[0]); ok && byInt[v] == nil {
						return
					}
				}
				match(pos, row)
			})
		}
		scanned += int64(n)
		if err != nil {
			return nil, nil, 0, err
		}
		switch {
		case len(df.rows) == 0:
			// No changed key is in this file (inserts within its key range):
			// nothing to do.
		case copyOnWrite || float64(len(old)+len(df.rows)) > dvMaxShare*float64(n) || !hasNumRecords(f):
			// (a file with a DV must carry numRecords, §Deletion Vectors)
			rewrite = append(rewrite, f)
		default:
			for st, row := range partial {
				st.row, st.initLive, st.inDV = row, live(row), true
			}
			files = append(files, df)
		}
	}
	return rewrite, files, scanned, nil
}

// writeDeletionVectors writes one DV file with the new DV of every file
// that has touched rows (the union of its old positions and those) and
// returns the old adds to remove and the new adds (same data file, new
// DV) to commit.
func writeDeletionVectors(ctx context.Context, store blob.Store, files []*dvFile) (removed, added []*lakelog.Add, rows int64, err error) {
	w := dv.NewFileWriter("")
	for _, f := range files {
		var pos []uint64
		for _, r := range f.rows {
			if r.st.touched {
				pos = append(pos, r.pos)
			}
		}
		if len(pos) == 0 {
			continue // every change to its rows was older than the rows
		}
		slices.Sort(pos)
		rows += int64(len(pos))
		na := *f.add
		na.DeletionVector = w.Add(dv.Union(f.old, pos))
		na.DataChange = true
		if na.Stats, err = wideStats(f.add.Stats); err != nil {
			return nil, nil, 0, fmt.Errorf("file %s: stats: %w", f.add.Path, err)
		}
		removed = append(removed, f.add)
		added = append(added, &na)
	}
	if err := w.Finish(ctx, store); err != nil {
		return nil, nil, 0, err
	}
	return removed, added, rows, nil
}

// wideStats marks stats tightBounds=false: min/max still bound the live
// rows but may be values of deleted ones.
func wideStats(stats string) (string, error) {
	if stats == "" {
		return "", nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stats), &m); err != nil {
		return "", err
	}
	m["tightBounds"] = json.RawMessage("false")
	b, err := json.Marshal(m)
	return string(b), err
}

func hasNumRecords(f *lakelog.Add) bool {
	st, err := f.ParsedStats()
	return err == nil && st != nil && st.HasNumRecords
}
