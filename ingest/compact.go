package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

// CompactOptions configure Compact.
type CompactOptions struct {
	// TargetFileBytes is the size of the files written
	// (DefaultTargetFileBytes). Files at least half this size are left
	// alone.
	TargetFileBytes int64
	// MaxGroupBytes bounds the bytes of small files rewritten by one
	// commit; their rows are held in memory together (decoded, several
	// times their encoded size). Default: TargetFileBytes.
	MaxGroupBytes int64
	Logger        *slog.Logger
}

// CompactReport says what Compact did.
type CompactReport struct {
	Commits      []int64      `json:"commits"`
	FilesRemoved int          `json:"files_removed"`
	BytesRemoved int64        `json:"bytes_removed"`
	Files        []FileReport `json:"files"` // written
	Rows         int64        `json:"rows"`
	// Skipped counts groups abandoned because a concurrent commit removed
	// one of their files first.
	Skipped int `json:"skipped"`
}

// Compact rewrites the raw table's small files into large ones sorted by
// (topic, ingest_ts, partition, offset). Both the removes and the adds have
// dataChange=false (the rows do not change, so readers of the change feed
// and the appendOnly check ignore them); the new adds carry
// clusteringProvider "liquid".
//
// It is safe beside running ingests: each commit declares the files it
// rewrites as read (Transaction.ReadFiles), so only a concurrent removal of
// one of them conflicts — that group is skipped — while ingest's blind
// appends commute with it.
func Compact(ctx context.Context, table *lakelog.Table, opts CompactOptions) (*CompactReport, error) {
	if opts.TargetFileBytes <= 0 {
		opts.TargetFileBytes = DefaultTargetFileBytes
	}
	if opts.MaxGroupBytes <= 0 {
		opts.MaxGroupBytes = opts.TargetFileBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	snap, err := table.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("raw table snapshot: %w", err)
	}
	schema := snap.Schema()
	type cand struct {
		add      *lakelog.Add
		minTopic string
	}
	var small []cand
	for _, a := range snap.Files() {
		if a.Size >= opts.TargetFileBytes/2 || a.DeletionVector != nil {
			continue
		}
		c := cand{add: a}
		if st, err := a.ParsedStats(); err == nil && st != nil {
			c.minTopic, _ = st.MinValues["topic"].(string)
		}
		small = append(small, c)
	}
	rep := &CompactReport{}
	if len(small) < 2 {
		return rep, nil
	}
	// Neighbours by topic end up in the same group, so the output files
	// keep narrow topic ranges.
	slices.SortFunc(small, func(x, y cand) int {
		return cmp.Or(cmp.Compare(x.minTopic, y.minTopic), cmp.Compare(x.add.Path, y.add.Path))
	})
	var groups [][]*lakelog.Add
	var cur []*lakelog.Add
	var curBytes int64
	for _, c := range small {
		if len(cur) > 0 && curBytes+c.add.Size > opts.MaxGroupBytes {
			groups = append(groups, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, c.add)
		curBytes += c.add.Size
	}
	groups = append(groups, cur)

	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		v, files, rows, err := compactGroup(ctx, table, snap, schema, g, opts.TargetFileBytes)
		if errors.Is(err, lakelog.ErrConflict) {
			log.Info("compaction group lost to a concurrent commit, skipped", "files", len(g), "err", err)
			rep.Skipped++
			continue
		}
		if err != nil {
			return rep, err
		}
		rep.Commits = append(rep.Commits, v)
		rep.FilesRemoved += len(g)
		for _, a := range g {
			rep.BytesRemoved += a.Size
		}
		rep.Files = append(rep.Files, files...)
		rep.Rows += rows
		log.Info("compacted", "version", v, "removed", len(g), "added", len(files), "rows", rows)
	}
	return rep, nil
}

func compactGroup(ctx context.Context, table *lakelog.Table, snap *lakelog.Snapshot, schema *lakelog.StructType, group []*lakelog.Add, target int64) (int64, []FileReport, int64, error) {
	iTopic, iTS, iPart, iOff := fieldIndex(schema, "topic"), fieldIndex(schema, "ingest_ts"), fieldIndex(schema, "partition"), fieldIndex(schema, "offset")
	if iTopic < 0 || iTS < 0 || iPart < 0 || iOff < 0 {
		return 0, nil, 0, errors.New("compact: table lacks the raw columns topic, ingest_ts, partition, offset")
	}
	var rows [][]any
	for _, a := range group {
		rs, err := datafile.ReadFile(ctx, table.Store(), a, schema)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("compact: read %s: %w", a.Path, err)
		}
		for {
			r, ok := rs.Next()
			if !ok {
				break
			}
			rows = append(rows, r)
		}
		if err := rs.Err(); err != nil {
			return 0, nil, 0, fmt.Errorf("compact: read %s: %w", a.Path, err)
		}
	}
	slices.SortFunc(rows, func(x, y []any) int {
		return cmp.Or(
			cmp.Compare(x[iTopic].(string), y[iTopic].(string)),
			x[iTS].(time.Time).Compare(y[iTS].(time.Time)),
			cmp.Compare(x[iPart].(int32), y[iPart].(int32)),
			cmp.Compare(x[iOff].(int64), y[iOff].(int64)),
		)
	})
	var adds []*lakelog.Add
	var reps []FileReport
	var w *datafile.Writer
	finish := func() error {
		add, err := w.Finish(ctx, table.Store(), "")
		if err != nil {
			return fmt.Errorf("compact: write file: %w", err)
		}
		add.DataChange = false
		add.ClusteringProvider = "liquid"
		adds = append(adds, add)
		reps = append(reps, FileReport{Path: add.Path, Rows: w.Rows(), Bytes: add.Size})
		w = nil
		return nil
	}
	for _, r := range rows {
		if w == nil {
			var err error
			if w, err = datafile.NewWriter(schema, datafile.Options{}); err != nil {
				return 0, nil, 0, fmt.Errorf("compact: %w", err)
			}
		}
		if err := w.Write(r); err != nil {
			return 0, nil, 0, fmt.Errorf("compact: %w", err)
		}
		if w.EstimatedSize() >= target {
			if err := finish(); err != nil {
				return 0, nil, 0, err
			}
		}
	}
	if w != nil {
		if err := finish(); err != nil {
			return 0, nil, 0, err
		}
	}
	tx := snap.Begin("OPTIMIZE")
	paths := make([]string, len(group))
	for i, a := range group {
		paths[i] = a.Path
		tx.RemoveFile(a, false)
	}
	tx.ReadFiles(paths...)
	tx.Add(adds...)
	tx.SetOperationParameters(map[string]any{"predicate": "[]", "clusterBy": `["topic","ingest_ts"]`, "auto": false})
	tx.SetOperationMetrics(map[string]any{"numRemovedFiles": len(group), "numAddedFiles": len(adds)})
	v, err := tx.Commit(ctx)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("compact commit: %w", err)
	}
	return v, reps, int64(len(rows)), nil
}

func fieldIndex(s *lakelog.StructType, name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}
