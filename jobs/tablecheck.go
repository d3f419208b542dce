package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// `sluice validate --table T` compares a source table with its SCD1 table
// at one known source position P: it opens one consistent snapshot view of
// the source (P = View.Position), plans key ranges from the key
// distribution (Source.Boundaries), and sums per range the row count and a
// digest of every row, on the source side (ReadChunk, streamed) and on the
// lake side (the SCD1 data files, streamed). Only ranges whose count or
// digest differ are read again, key by key, to name the keys that differ.
// Memory is bounded by the number of ranges plus one range's rows.
//
// Ranges and key order. Chunks are the source's key ranges in the source's
// own order (a collation may order text differently from bytes). The
// compared ranges are defined in one Go order that both sides use:
// range i ends at the greatest key (Go order) read in chunks 0..i, the last
// range is open above. Each source row and each lake row is routed to the
// first range whose end is >= its key. When the two orders agree (integer,
// uuid, date/time keys; text with a C collation) range i is exactly the
// rows of chunk i; when they do not, routing is still the same function on
// both sides, so equal tables still compare equal, and the per-range chunk
// sets say which chunks to re-read.
//
// Values are compared in the SCD1 table's types, see tablecheck_values.go.

// ErrTableDiffers is returned (wrapped) by CheckTable when the source and
// SCD1 tables differ and no repair was asked: exit code 4
// (ExitDataQuality), see ClassifyTableCheck.
var ErrTableDiffers = errors.New("source and SCD1 table differ")

// ClassifyTableCheck maps ErrTableDiffers to ExitDataQuality.
func ClassifyTableCheck(err error) (int, bool) {
	if errors.Is(err, ErrTableDiffers) {
		return ExitDataQuality, true
	}
	return 0, false
}

// TableCheckOptions are the flags of `sluice validate --table`.
type TableCheckOptions struct {
	// Table is the source table: db.schema.table (PostgreSQL) or db.table.
	Table string
	// Source names the configured source; empty picks the only source of
	// the table's kind.
	Source string
	// Repair reloads the differing keys, writes deletes for keys the source
	// lacks, and merges the table.
	Repair bool
	// RangeRows is the target number of rows per compared range (default
	// 50,000): the most rows a differing range holds in memory.
	RangeRows int64
	// MaxKeys caps the differing keys listed per range (default 20); the
	// counts are always complete.
	MaxKeys int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// TableCheck is the outcome of `sluice validate --table`.
type TableCheck struct {
	Table    string `json:"table"`
	Location string `json:"location"` // the SCD1 table, relative to the warehouse
	// Source is the position P the source was read at.
	Source PositionInfo `json:"source_position"`
	// Lake is how far the SCD1 table has merged (its sluice.progress).
	Lake LakeProgress `json:"lake"`
	// LakeBehind is true when the lake has merged no change at or after P:
	// changes made at the source since then show as differences until
	// ingest and merge catch up (re-run after `sluice run`).
	LakeBehind bool   `json:"lake_behind"`
	Note       string `json:"note,omitempty"`
	// Columns are the compared columns; NotInLake the source columns the
	// SCD1 table does not have yet (not compared).
	Columns   []string `json:"columns"`
	NotInLake []string `json:"not_in_lake,omitempty"`
	Ranges    int      `json:"ranges"`
	// SourceRows and LakeRows count all rows compared.
	SourceRows int64       `json:"source_rows"`
	LakeRows   int64       `json:"lake_rows"`
	Differing  []RangeDiff `json:"differing_ranges"`
	Equal      bool        `json:"equal"`
	Repair     *RepairInfo `json:"repair,omitempty"`
}

// PositionInfo is a source position.
type PositionInfo struct {
	OrderingKey string `json:"ordering_key"`
	Position    string `json:"position"` // "lsn 0/16B3748" or "binlog mysql-bin.000003:1234"
	TakenAt     string `json:"taken_at,omitempty"`
}

// LakeProgress is the SCD1 table's sluice.progress.
type LakeProgress struct {
	Version     int64  `json:"version"`
	RawVersion  int64  `json:"merged_raw_version"`
	OrderingKey string `json:"ordering_key"`
	SourceTime  string `json:"source_commit_time,omitempty"`
}

// RangeDiff is one key range whose rows differ.
type RangeDiff struct {
	Index int `json:"index"`
	// Lo and Hi bound the range: Lo < key <= Hi, values per key column as
	// text; null means open.
	Lo         []string `json:"lo"`
	Hi         []string `json:"hi"`
	SourceRows int64    `json:"source_rows"`
	LakeRows   int64    `json:"lake_rows"`
	SourceHash string   `json:"source_hash"`
	LakeHash   string   `json:"lake_hash"`
	// MissingInLake, ExtraInLake and Changed count the differing keys.
	MissingInLake int       `json:"missing_in_lake"`
	ExtraInLake   int       `json:"extra_in_lake"`
	Changed       int       `json:"changed"`
	Keys          []KeyDiff `json:"keys"` // at most MaxKeys
}

// KeyDiff is one differing key.
type KeyDiff struct {
	Key  []string `json:"key"`
	Kind string   `json:"kind"` // missing_in_lake, extra_in_lake, changed
}

// Kinds of KeyDiff.
const (
	DiffMissing = "missing_in_lake"
	DiffExtra   = "extra_in_lake"
	DiffChanged = "changed"
)

// CheckTable compares opts.Table at the source with its SCD1 table and,
// with opts.Repair, repairs the differences (see repairTable). It reads the
// source through one snapshot view and the lake through one snapshot of
// the SCD1 table. The returned check is non-nil whenever the comparison
// ran. The error wraps ErrTableDiffers when the tables differ and no
// repair was asked.
func CheckTable(ctx context.Context, cfg *Config, opts TableCheckOptions, logger *slog.Logger) (*TableCheck, error) {
	if opts.RangeRows <= 0 {
		opts.RangeRows = 50_000
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	id := parseTableID(opts.Table)
	if id.Database == "" {
		return nil, UsageError(fmt.Errorf("--table %q: want db.schema.table (PostgreSQL) or db.table (MySQL/MariaDB)", opts.Table))
	}
	sc, err := checkSourceFor(cfg, opts.Source, id)
	if err != nil {
		return nil, err
	}
	lk, err := openLake(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	ck := &tableChecker{cfg: cfg, opts: opts, log: logger, lk: lk, sc: sc, id: id}
	ck.res = &TableCheck{Table: id.String(), Location: tableLocation(cfg, id.String()), Differing: []RangeDiff{}}
	if err := ck.openLakeTable(ctx); err != nil {
		return nil, err
	}
	src, err := openCheckSource(ctx, sc, id, logger)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ck.src = src
	if err := ck.compare(ctx); err != nil {
		return ck.res, err
	}
	res := ck.res
	res.Equal = len(res.Differing) == 0
	if res.Equal {
		return res, nil
	}
	if !opts.Repair {
		return res, fmt.Errorf("table %s: %d of %d key ranges differ: %w", res.Table, len(res.Differing), res.Ranges, ErrTableDiffers)
	}
	return res, ck.repair(ctx)
}

// tableChecker is the state of one CheckTable.
type tableChecker struct {
	cfg  *Config
	opts TableCheckOptions
	log  *slog.Logger
	lk   *lake
	sc   *SourceConfig
	id   schemas.TableID
	res  *TableCheck

	// lake side
	lakeTable *lakelog.Table
	lakeSnap  *lakelog.Snapshot
	lakeKey   []int // key column indices in the lake schema
	deleted   int   // _sluice_deleted index, -1 for hard-delete tables

	// source side
	src    closingSource
	table  *snapshot.Table
	view   snapshot.View
	pos    schemas.Source
	cols   []compareColumn
	srcKey []int // key column indices in cols
	chunks []snapshot.Chunk

	// ranges: bounds[i] is the greatest key of range i (nil: no row yet);
	// the last range is open above. chunksOf[i] are the chunks that had
	// source rows in range i.
	bounds   [][]any
	source   []rangeSum
	lakeSums []rangeSum
	chunksOf []map[int]bool

	// differing keys, for repair
	reload    [][]any // Debezium key values of keys to reload
	reloadSet map[string]bool
	extra     [][]any // lake key values (canonValue) of keys the source lacks
}

// openLakeTable opens the SCD1 table and reads its key and progress.
func (ck *tableChecker) openLakeTable(ctx context.Context) error {
	loc := ck.res.Location
	var store blob.Store
	if strings.Contains(loc, "://") {
		opts, err := storeOptions(ck.cfg, ck.log)
		if err != nil {
			return err
		}
		if store, err = OpenStore(ctx, loc, opts); err != nil {
			return UsageError(fmt.Errorf("table %s: location: %w", ck.res.Table, err))
		}
	} else {
		store = blob.Sub(ck.lk.warehouse, strings.Trim(loc, "/"))
	}
	ck.lakeTable = lakelog.Open(store, lakelog.Options{Logger: ck.log})
	snap, err := ck.lakeTable.Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		return fmt.Errorf("table %s: no SCD1 table at %s (run `sluice snapshot` and `sluice merge` first): %w", ck.res.Table, loc, err)
	}
	if err != nil {
		return fmt.Errorf("table %s: SCD1 table %s: %w", ck.res.Table, loc, err)
	}
	ck.lakeSnap = snap
	lp := LakeProgress{Version: snap.Version(), RawVersion: -1}
	if v, ok := snap.AppVersion(merge.AppID); ok {
		lp.RawVersion = v
	}
	if conf, ok := snap.Domain(merge.ProgressDomain); ok {
		var p merge.Progress
		if json.Unmarshal([]byte(conf), &p) == nil {
			lp.OrderingKey = p.OrderingKey
			if p.SourceTsMs > 0 {
				lp.SourceTime = time.UnixMilli(p.SourceTsMs).UTC().Format(time.RFC3339Nano)
			}
		}
	}
	ck.res.Lake = lp
	return nil
}

// setUp describes the source table, matches its columns and key with the
// SCD1 table, and opens the view.
func (ck *tableChecker) setUp(ctx context.Context) error {
	tables, err := ck.src.Tables(ctx)
	if err != nil {
		return fmt.Errorf("table %s: describe: %w", ck.res.Table, err)
	}
	if len(tables) != 1 || tables[0].ID != ck.id {
		got := "nothing"
		if len(tables) > 0 {
			got = tables[0].ID.String()
		}
		return UsageError(fmt.Errorf("table %s: source %s describes %s (does the source connect to database %q?)", ck.res.Table, ck.sc.Name, got, ck.id.Database))
	}
	t := tables[0]
	ck.table = t
	schema := ck.lakeSnap.Schema()
	var lakeKey []string
	if raw := ck.lakeSnap.Metadata().Configuration["sluice.primaryKey"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &lakeKey); err != nil {
			return fmt.Errorf("table %s: SCD1 property sluice.primaryKey: %w", ck.res.Table, err)
		}
	}
	if len(t.Key) == 0 {
		return fmt.Errorf("table %s: no primary key at the source: key ranges need one", ck.res.Table)
	}
	if !slices.Equal(lakeKey, t.Key) {
		return fmt.Errorf("table %s: the source key is (%s), the SCD1 table's (%s): compare needs the same key", ck.res.Table, strings.Join(t.Key, ", "), strings.Join(lakeKey, ", "))
	}
	index := map[string]int{}
	for i, f := range schema.Fields {
		index[f.Name] = i
	}
	ck.deleted = -1
	if i, ok := index[merge.ColDeleted]; ok {
		ck.deleted = i
	}
	for i, c := range t.Columns {
		li, ok := index[c.Name]
		if !ok {
			ck.res.NotInLake = append(ck.res.NotInLake, c.Name)
			continue
		}
		ck.cols = append(ck.cols, compareColumn{src: i, lake: li, col: c, lakeType: schema.Fields[li].Type})
		ck.res.Columns = append(ck.res.Columns, c.Name)
	}
	for _, k := range t.Key {
		found := false
		for i, c := range ck.cols {
			if c.col.Name == k {
				ck.srcKey = append(ck.srcKey, i)
				ck.lakeKey = append(ck.lakeKey, c.lake)
				found = true
			}
		}
		if !found {
			return fmt.Errorf("table %s: key column %q is not in the SCD1 table", ck.res.Table, k)
		}
	}
	if ck.view, err = ck.src.OpenView(ctx); err != nil {
		return fmt.Errorf("table %s: open view: %w", ck.res.Table, err)
	}
	ck.pos = ck.view.Position()
	ck.pos.Name = ck.sc.TopicPrefix
	ck.pos.DB, ck.pos.Schema, ck.pos.Table = t.ID.Database, t.ID.Schema, t.ID.Table
	ord, err := ck.pos.OrderingKey()
	if err != nil {
		return fmt.Errorf("table %s: view position: %w", ck.res.Table, err)
	}
	ck.res.Source = PositionInfo{OrderingKey: ord, Position: describePosition(ck.pos)}
	if ck.pos.TsMs > 0 {
		ck.res.Source.TakenAt = time.UnixMilli(ck.pos.TsMs).UTC().Format(time.RFC3339Nano)
	}
	if ck.res.Lake.OrderingKey < ord {
		ck.res.LakeBehind = true
		ck.res.Note = "the SCD1 table has merged changes up to ordering key " + orNone(ck.res.Lake.OrderingKey) +
			", before the source position " + ord + ": rows changed at the source since then differ until ingest and merge catch up; " +
			"if differences show, run `sluice run` (ingest + merge) and validate again. --repair is safe either way: reloaded rows never replace newer ones."
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// describePosition renders a source position for humans.
func describePosition(s schemas.Source) string {
	if s.Connector == schemas.ConnectorPostgres {
		return fmt.Sprintf("lsn %X/%X", s.CommitLSN>>32, uint32(s.CommitLSN))
	}
	return fmt.Sprintf("binlog %s:%d", s.File, s.Pos)
}

// compare runs the whole comparison: set up, plan, hash both sides, find
// the differing keys.
func (ck *tableChecker) compare(ctx context.Context) error {
	if err := ck.setUp(ctx); err != nil {
		return err
	}
	defer ck.view.Close()
	t := ck.table
	n := 1
	if t.EstimatedRows > ck.opts.RangeRows {
		n = int((t.EstimatedRows + ck.opts.RangeRows - 1) / ck.opts.RangeRows)
	}
	var bounds []snapshot.Bound
	if n > 1 {
		var err error
		if bounds, err = ck.src.Boundaries(ctx, t, n); err != nil {
			return fmt.Errorf("table %s: key boundaries: %w", ck.res.Table, err)
		}
	}
	chunks, err := snapshot.PlanChunks(bounds)
	if err != nil {
		return fmt.Errorf("table %s: %w", ck.res.Table, err)
	}
	ck.chunks = chunks
	n = len(chunks)
	ck.res.Ranges = n
	ck.bounds = make([][]any, n)
	ck.source = make([]rangeSum, n)
	ck.lakeSums = make([]rangeSum, n)
	ck.chunksOf = make([]map[int]bool, n)
	for i := range ck.chunksOf {
		ck.chunksOf[i] = map[int]bool{}
	}
	ck.log.Info("validate: comparing", "table", ck.res.Table, "ranges", n, "position", ck.res.Source.Position, "lake_ordering_key", ck.res.Lake.OrderingKey)

	if err := ck.hashSource(ctx); err != nil {
		return err
	}
	if err := ck.hashLake(ctx); err != nil {
		return err
	}
	for i := range n {
		s, l := ck.source[i], ck.lakeSums[i]
		ck.res.SourceRows += s.rows
		ck.res.LakeRows += l.rows
		if s == l {
			continue
		}
		d := RangeDiff{Index: i, SourceRows: s.rows, LakeRows: l.rows, SourceHash: s.hex(), LakeHash: l.hex()}
		if i > 0 && ck.bounds[i-1] != nil {
			d.Lo = ck.displayKey(ck.bounds[i-1])
		}
		if i < n-1 && ck.bounds[i] != nil {
			d.Hi = ck.displayKey(ck.bounds[i])
		}
		if err := ck.diffRange(ctx, &d); err != nil {
			return err
		}
		ck.res.Differing = append(ck.res.Differing, d)
	}
	return nil
}

// route returns the range of a normalized key; upTo limits the search to
// ranges [0, upTo) and returns upTo when none of them holds it.
func (ck *tableChecker) route(key []any, upTo int) int {
	return sort.Search(upTo, func(j int) bool {
		return ck.bounds[j] != nil && compareKeys(key, ck.bounds[j]) <= 0
	})
}

// sourceRow is one source row in SCD1 terms.
type sourceRow struct {
	values []any // aligned with ck.cols
	key    []any
	digest rowDigest
	canon  []byte
}

// readSource streams chunk c and calls fn with each row normalized.
func (ck *tableChecker) readSource(ctx context.Context, c snapshot.Chunk, fn func(raw []any, r *sourceRow) error) error {
	conv := newSourceConverter(ck.table, ck.cols, ck.pos)
	r := &sourceRow{values: make([]any, len(ck.cols)), key: make([]any, len(ck.srcKey))}
	err := ck.view.ReadChunk(ctx, ck.table, c, func(raw []any) error {
		if err := conv.convert(raw, r.values); err != nil {
			return err
		}
		for i, ki := range ck.srcKey {
			r.key[i] = r.values[ki]
		}
		r.canon = r.canon[:0]
		for _, v := range r.values {
			r.canon = appendCanon(r.canon, v)
		}
		r.digest = digestOf(r.canon)
		return fn(raw, r)
	})
	if err != nil {
		return fmt.Errorf("table %s: source chunk %d: %w", ck.res.Table, c.Index, err)
	}
	return nil
}

// hashSource reads every chunk once, in order, routing rows and growing
// the range bounds (see the top of this file).
func (ck *tableChecker) hashSource(ctx context.Context) error {
	n := len(ck.chunks)
	for i, c := range ck.chunks {
		if i > 0 {
			ck.bounds[i] = ck.bounds[i-1]
		}
		err := ck.readSource(ctx, c, func(_ []any, r *sourceRow) error {
			j := ck.route(r.key, i)
			if j == i && i < n-1 && (ck.bounds[i] == nil || compareKeys(r.key, ck.bounds[i]) > 0) {
				ck.bounds[i] = slices.Clone(r.key)
			}
			ck.source[j].add(r.digest)
			ck.chunksOf[j][i] = true
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// lakeRow is one live SCD1 row in normalized form.
type lakeRow struct {
	key    []any
	digest rowDigest
}

// readLake streams the live rows of the given SCD1 files.
func (ck *tableChecker) readLake(ctx context.Context, files []*lakelog.Add, fn func(r *lakeRow) error) error {
	schema := ck.lakeSnap.Schema()
	r := &lakeRow{key: make([]any, len(ck.lakeKey))}
	var canon []byte
	for _, f := range files {
		rows, err := datafileRows(ctx, ck.lakeTable.Store(), f, schema)
		if err != nil {
			return fmt.Errorf("table %s: SCD1 file %s: %w", ck.res.Table, f.Path, err)
		}
		for {
			row, ok := rows.Next()
			if !ok {
				break
			}
			if ck.deleted >= 0 {
				if d, _ := row[ck.deleted].(bool); d {
					continue // soft-deleted: absent
				}
			}
			canon = canon[:0]
			for _, c := range ck.cols {
				canon = appendCanon(canon, canonValue(row[c.lake]))
			}
			for i, li := range ck.lakeKey {
				r.key[i] = canonValue(row[li])
			}
			r.digest = digestOf(canon)
			if err := fn(r); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("table %s: SCD1 file %s: %w", ck.res.Table, f.Path, err)
		}
	}
	return nil
}

// hashLake reads every SCD1 file once and routes its rows.
func (ck *tableChecker) hashLake(ctx context.Context) error {
	last := len(ck.chunks) - 1
	return ck.readLake(ctx, ck.lakeSnap.Files(), func(r *lakeRow) error {
		ck.lakeSums[ck.route(r.key, last)].add(r.digest)
		return nil
	})
}

// diffRange re-reads one differing range on both sides and lists its
// differing keys.
func (ck *tableChecker) diffRange(ctx context.Context, d *RangeDiff) error {
	last := len(ck.chunks) - 1
	type entry struct {
		digest rowDigest
		key    []any // Debezium values, for the reload
		norm   []any
	}
	src := map[string]*entry{}
	var chunkIdx []int
	for c := range ck.chunksOf[d.Index] {
		chunkIdx = append(chunkIdx, c)
	}
	sort.Ints(chunkIdx)
	var kb []byte
	for _, c := range chunkIdx {
		err := ck.readSource(ctx, ck.chunks[c], func(raw []any, r *sourceRow) error {
			if ck.route(r.key, last) != d.Index {
				return nil
			}
			e := &entry{digest: r.digest, norm: slices.Clone(r.key), key: make([]any, len(ck.srcKey))}
			for i, ki := range ck.srcKey {
				e.key[i] = raw[ck.cols[ki].src]
			}
			kb = canonKey(kb[:0], r.key)
			src[string(kb)] = e
			return nil
		})
		if err != nil {
			return err
		}
	}
	add := func(kind string, key []any) {
		if len(d.Keys) < ck.opts.MaxKeys {
			d.Keys = append(d.Keys, KeyDiff{Key: ck.displayKey(key), Kind: kind})
		}
	}
	if ck.reloadSet == nil {
		ck.reloadSet = map[string]bool{}
	}
	files := ck.filesFor(d.Index)
	err := ck.readLake(ctx, files, func(r *lakeRow) error {
		if ck.route(r.key, last) != d.Index {
			return nil
		}
		kb = canonKey(kb[:0], r.key)
		e, ok := src[string(kb)]
		switch {
		case !ok:
			d.ExtraInLake++
			add(DiffExtra, r.key)
			ck.extra = append(ck.extra, slices.Clone(r.key))
		case e.digest != r.digest:
			d.Changed++
			add(DiffChanged, r.key)
			ck.reload = append(ck.reload, e.key)
			ck.reloadSet[string(kb)] = true
			delete(src, string(kb))
		default:
			delete(src, string(kb))
		}
		return nil
	})
	if err != nil {
		return err
	}
	missing := make([]string, 0, len(src))
	for k := range src {
		missing = append(missing, k)
	}
	sort.Slice(missing, func(a, b int) bool { return compareKeys(src[missing[a]].norm, src[missing[b]].norm) < 0 })
	for _, k := range missing {
		e := src[k]
		d.MissingInLake++
		add(DiffMissing, e.norm)
		ck.reload = append(ck.reload, e.key)
		ck.reloadSet[k] = true
	}
	slices.SortStableFunc(d.Keys, func(a, b KeyDiff) int { return strings.Compare(a.Kind, b.Kind) })
	return nil
}

// canonKey is the map key of a normalized key.
func canonKey(b []byte, key []any) []byte {
	for _, v := range key {
		b = appendCanon(b, v)
	}
	return b
}

// displayKey renders a normalized key for reports.
func (ck *tableChecker) displayKey(key []any) []string {
	out := make([]string, len(key))
	for i, v := range key {
		out[i] = displayValue(v, ck.cols[ck.srcKey[i]].lakeType)
	}
	return out
}
