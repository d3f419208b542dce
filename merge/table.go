package merge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/schemas"
)

// AppID is the txn appId under which an SCD1 table records the last raw
// table version it has merged.
const AppID = "sluice-merge"

// ProgressDomain is the domainMetadata that says how complete an SCD1
// table is; its configuration is a Progress as JSON.
const ProgressDomain = "sluice.progress"

// Progress is the configuration of the sluice.progress domain.
type Progress struct {
	RawVersion  int64  `json:"rawVersion"`  // last raw table version merged
	OrderingKey string `json:"orderingKey"` // greatest ordering key merged (source position)
	SourceTsMs  int64  `json:"sourceTsMs"`  // greatest source commit time merged
	MergedAt    int64  `json:"mergedAt"`    // when, ms since epoch
	// TruncatedAt is the ordering key of the latest TRUNCATE applied: the
	// table holds no row older than it, and changes older than it are
	// skipped as if the truncate had removed them.
	TruncatedAt string `json:"truncatedAt,omitempty"`
}

// errRetry asks for the table's merge to start again from a new snapshot.
var errRetry = errors.New("table changed concurrently")

// tableJob merges the raw events of one source table into its SCD1 table.
type tableJob struct {
	id     schemas.TableID
	tc     TableConfig
	cfg    *Config
	table  *lakelog.Table
	events []*rawEvent
	// from is the raw version after which the run read the raw table: a
	// table that has merged less would skip (merged, from].
	from   int64
	to     int64
	now    time.Time
	logger *slog.Logger
}

func (j *tableJob) run(ctx context.Context) TableReport {
	for attempt := 1; ; attempt++ {
		rep := TableReport{Table: j.id.String(), Location: j.tc.Location, FromRawVersion: -1, ToRawVersion: j.to, Version: -1}
		err := j.attempt(ctx, &rep)
		if (errors.Is(err, lakelog.ErrConflict) || errors.Is(err, errRetry)) && attempt < 5 {
			j.logger.Info("merge conflict, retrying", "table", j.id.String(), "attempt", attempt, "err", err)
			continue
		}
		if err != nil {
			rep.Err = fmt.Errorf("table %s: %w", j.id, err)
		}
		return rep
	}
}

// keyState is what the merge knows about one key: its row (nil when
// absent) and its tombstone.
type keyState struct {
	key       []any
	row       []any
	initLive  bool
	touched   bool
	tomb      *tombstone
	tombDirty bool
	// inDV: row is a partial row (key columns) of a file that gets a
	// deletion vector; written out only when touched.
	inDV bool
}

func (j *tableJob) attempt(ctx context.Context, rep *TableReport) error {
	snap, err := j.table.Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		snap, err = nil, nil
	}
	if err != nil {
		return err
	}
	merged := int64(-1)
	if snap != nil {
		if v, ok := snap.AppVersion(AppID); ok {
			merged = v
		}
	}
	rep.FromRawVersion = merged
	if merged >= j.to {
		return nil
	}
	if merged >= 0 && merged < j.from {
		// Committing j.to would skip the raw versions (merged, from]. Run
		// reads from the least version of the tables its catalog lists,
		// so the catalog missed the table (and passes give every table
		// each of its events since from, or leave it out once it failed);
		// this run's scan teaches the catalog the table, so the next run
		// reads from merged.
		return fmt.Errorf("merged to raw version %d but this run read raw versions after %d only; rerun the merge", merged, j.from)
	}
	var evs []decoded
	var truncAt string // the latest TRUNCATE's ordering key
	var truncTs time.Time
	ntrunc := 0
	cache := schemaCache{}
	for _, ev := range j.events {
		if ev.rawVersion <= merged {
			continue
		}
		d, err := decodeEvent(ev, cache)
		if err != nil {
			return err
		}
		if d.env.Op == schemas.OpTruncate {
			// Only the latest truncate matters: it removes every row
			// older than itself, which includes what an earlier one would.
			ntrunc++
			if d.ev.ordKey > truncAt {
				truncAt, truncTs = d.ev.ordKey, d.ev.sourceTs
			}
			continue
		}
		evs = append(evs, d)
	}
	rep.ChangesRead = len(evs) + ntrunc
	if len(evs) == 0 && (snap == nil || truncAt == "") {
		if snap == nil {
			// nothing to create a table from; a truncate of a table never
			// merged has nothing to empty
			return nil
		}
		return j.commit(ctx, snap, rep, nil, nil, nil, nil, nil)
	}
	// A primary-key change arrives as a delete of the old key and a create
	// of the new one with the same ordering key, possibly from different
	// Kafka partitions: put the delete first so that the create can take
	// the columns the source left out (unchanged TOAST) from the old row.
	deleteFirst := func(d decoded) int {
		if d.env != nil && d.env.Op == schemas.OpDelete {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(evs, func(a, b decoded) int {
		if a.ev.ordKey < b.ev.ordKey {
			return -1
		} else if a.ev.ordKey > b.ev.ordKey {
			return 1
		}
		return deleteFirst(a) - deleteFirst(b)
	})

	// Schema and key.
	soft := j.tc.DeleteMode == DeleteSoft
	var cur []schemas.DeltaColumn
	var key []string
	if snap != nil {
		if cur, err = deltaColumns(snap.Schema()); err != nil {
			return err
		}
		if key, err = primaryKeyOf(snap.Metadata()); err != nil {
			return err
		}
		if m := snap.Metadata().Configuration[confDeleteMode]; m != "" {
			soft = m == DeleteSoft
		}
	}
	if len(key) == 0 {
		key = j.tc.Key
	}
	if len(key) == 0 {
		fields, err := kafkaKeyFields(evs[0].ev.key)
		if err != nil {
			return fmt.Errorf("%s: %w", evs[0].ev, err)
		}
		for _, f := range fields {
			key = append(key, f.Name)
		}
	}
	if len(key) == 0 {
		return fmt.Errorf("no primary key: the source table has none and the config sets no key (tables.%q.key); tables without a primary key are not merged", j.id.String())
	}
	widened := false
	evolve := func(src []schemas.DeltaColumn) error {
		if cur == nil {
			cur = append(slices.Clone(src), metaColumns(soft)...)
			return nil
		}
		ev, err := schemas.Evolve(cur, src)
		if err != nil {
			var ice *schemas.IncompatibleChangeError
			if errors.As(err, &ice) {
				return fmt.Errorf("unsafe schema change: %w", err)
			}
			return err
		}
		widened = widened || len(ev.Widened) > 0
		cur = ev.Columns
		return nil
	}
	var prev []schemas.DeltaColumn
	for _, d := range evs {
		if d.cols == nil || slices.Equal(d.cols, prev) {
			continue
		}
		prev = d.cols
		if err := evolve(d.cols); err != nil {
			return fmt.Errorf("%s: %w", d.ev, err)
		}
	}
	existing := map[string]bool{}
	for _, c := range cur {
		existing[c.Name] = true
	}
	if inferred := inferColumns(evs, existing); len(inferred) > 0 {
		if err := evolve(inferred); err != nil {
			return err
		}
	}
	for i := range cur {
		cur[i].Nullable = !slices.Contains(key, cur[i].Name) && cur[i].Name != ColOrderingKey && cur[i].Name != ColOp && cur[i].Name != ColMergedAt && cur[i].Name != ColDeleted
	}
	schema, err := structOf(cur)
	if err != nil {
		return err
	}
	index := map[string]int{}
	for i, f := range schema.Fields {
		index[f.Name] = i
	}
	keyIdx := make([]int, len(key))
	for i, k := range key {
		ki, ok := index[k]
		if !ok {
			return fmt.Errorf("primary key column %q is not in the table schema", k)
		}
		keyIdx[i] = ki
	}
	numIndexed := 32
	for _, ki := range keyIdx {
		numIndexed = max(numIndexed, ki+1)
	}
	conf := map[string]string{
		confPrimaryKey:  mustJSON(key),
		confSourceTable: j.id.String(),
		confDeleteMode:  map[bool]string{true: DeleteSoft, false: DeleteHard}[soft],
	}
	if numIndexed > 32 {
		conf["delta.dataSkippingNumIndexedCols"] = strconv.Itoa(numIndexed)
	}
	useDV := j.tc.DeletionVectors
	proto := protocolFor(cur)
	if useDV {
		conf["delta.enableDeletionVectors"] = "true"
		proto = withDeletionVectors(proto)
	}
	var newMeta *lakelog.Metadata
	var newProto *lakelog.Protocol
	if snap == nil {
		meta := lakelog.Metadata{SchemaString: schema.String(), Configuration: conf}
		snap, err = j.table.Create(ctx, meta, proto)
		if errors.Is(err, lakelog.ErrTableExists) {
			return errRetry
		}
		if err != nil {
			return err
		}
	} else {
		if p, changed := mergeProtocol(snap.Protocol(), proto); changed {
			newProto = &p
		}
		m := snap.Metadata()
		if schema.String() != snap.Schema().String() || !maps.Equal(m.Configuration, mergedConf(m.Configuration, conf)) {
			m.SchemaString = schema.String()
			m.Configuration = mergedConf(m.Configuration, conf)
			newMeta = &m
		}
	}

	// Changes in table terms.
	changes := make([]change, 0, len(evs))
	for _, d := range evs {
		ch, err := j.toChange(d, schema, index, key, keyIdx)
		if err != nil {
			return err
		}
		changes = append(changes, ch)
	}

	// Files that can hold a changed key.
	keyCols := make([]keyColumn, len(key))
	for i, k := range key {
		keyCols[i] = keyColumn{name: k, typ: schema.Fields[keyIdx[i]].Type}
	}
	changedKeys := make([][]any, 0, len(changes))
	for _, ch := range changes {
		changedKeys = append(changedKeys, ch.key)
		if ch.oldKey != nil {
			changedKeys = append(changedKeys, ch.oldKey)
		}
	}
	slices.SortFunc(changedKeys, compareKeys)
	files := snap.Files()
	var hit []*lakelog.Add
	var bounds []any
	progress := j.previousProgress(snap)
	applyTrunc := truncAt > progress.TruncatedAt
	if applyTrunc {
		rep.ChangesApplied++
		progress.TruncatedAt = truncAt
		progress.OrderingKey = max(progress.OrderingKey, truncAt)
		if ms := truncTs.UnixMilli(); !truncTs.IsZero() && ms > progress.SourceTsMs {
			progress.SourceTsMs = ms
		}
	} else if ntrunc > 0 {
		rep.ChangesSkipped += ntrunc
	}
	switch {
	case widened:
		hit = files // a wider type: every file is rewritten with it
	case applyTrunc:
		hit, bounds = truncatedFiles(files, keyCols, changedKeys, truncAt)
	default:
		hit, _, bounds = affectedFiles(files, keyCols, changedKeys)
	}
	// A state per changed key; rows of the rewritten files whose key no
	// change touches go straight to the output.
	states := make(map[string]*keyState, len(changes))
	for i := range changes {
		for _, k := range [][]any{changes[i].key, changes[i].oldKey} {
			if k != nil {
				if ks := keyString(k); states[ks] == nil {
					states[ks] = &keyState{key: k}
				}
			}
		}
	}
	delIdx, hasDel := index[ColDeleted]
	live := func(row []any) bool {
		if row == nil {
			return false
		}
		if hasDel && soft {
			d, _ := row[delIdx].(bool)
			return !d
		}
		return true
	}
	ordIdx, opIdx, tsIdx, atIdx := index[ColOrderingKey], index[ColOp], index[ColSourceTs], index[ColMergedAt]
	stamp := func(row []any, ch *change, op schemas.Op) {
		row[ordIdx] = ch.ord
		row[opIdx] = op.String()
		if ch.sourceTs.IsZero() {
			row[tsIdx] = nil
		} else {
			row[tsIdx] = ch.sourceTs
		}
		row[atIdx] = j.now
		if hasDel {
			row[delIdx] = op == schemas.OpDelete || op == schemas.OpTruncate
		}
	}
	// truncate applies the batch's TRUNCATE to a row read from the table:
	// a live row older than it is removed (hard) or marked deleted with op
	// "t" (soft). It returns the row to keep (nil: none) and whether the
	// row changed.
	truncChange := &change{ord: truncAt, op: schemas.OpTruncate, sourceTs: truncTs}
	truncate := func(row []any) ([]any, bool) {
		if !applyTrunc || !live(row) {
			return row, false
		}
		if o, _ := row[ordIdx].(string); o >= truncAt {
			return row, false
		}
		if !soft {
			return nil, true
		}
		row = slices.Clone(row)
		stamp(row, truncChange, schemas.OpTruncate)
		return row, true
	}
	// Deletion vectors (deletionvectors.go): files whose changed rows are
	// few get a DV instead of a rewrite.
	var dvFiles []*dvFile
	if useDV && !widened && !applyTrunc && len(hit) > 0 {
		var scanned int64
		minOrd := changes[0].ord // changes are in ordering-key order
		hit, dvFiles, scanned, err = planDeletionVectors(ctx, j.table.Store(), dv.NewReader(j.table.Store()), hit, schema, keyIdx, minOrd, states, needsOldRow(changes, schema, soft), live)
		if err != nil {
			return err
		}
		rep.RowsScanned += scanned
	}
	truncated := false
	var out [][]any
	var kbuf []byte
	err = readRows(ctx, j.table.Store(), hit, schema, func(row []any) {
		rep.RowsRewritten++
		kbuf = kbuf[:0]
		for _, ki := range keyIdx {
			kbuf = appendKey(kbuf, row[ki])
		}
		initLive := live(row)
		row, gone := truncate(row)
		truncated = truncated || gone
		if st := states[string(kbuf)]; st != nil {
			st.row, st.initLive, st.touched = row, initLive, gone
			return
		}
		if gone {
			rep.RowsDeleted++
		}
		if row != nil {
			out = append(out, row)
		}
	})
	if err != nil {
		return err
	}

	// Tombstones (hard deletes).
	tombTable := lakelog.Open(blob.Sub(j.table.Store(), tombstoneDir), lakelog.Options{Logger: j.logger, Now: j.cfg.Now})
	tombSchema := tombstoneSchema(schema, keyIdx)
	var tombs map[string]*tombstone
	var tombSnap *lakelog.Snapshot
	if !soft {
		if tombs, tombSnap, err = loadTombstones(ctx, tombTable, tombSchema, len(keyIdx)); err != nil {
			return err
		}
	}
	tombsChanged := false
	state := func(k []any) *keyState {
		ks := keyString(k)
		st, ok := states[ks]
		if !ok {
			st = &keyState{key: k}
			states[ks] = st
		}
		if st.tomb == nil && tombs != nil {
			st.tomb = tombs[ks]
			if st.tomb != nil && st.row != nil {
				if o, _ := st.row[index[ColOrderingKey]].(string); st.tomb.ord > o {
					// a delete whose main commit never landed (see tombstones.go)
					st.row, st.touched = nil, true
				}
			}
		}
		return st
	}
	current := func(st *keyState) string {
		o := ""
		if st.row != nil {
			o, _ = st.row[ordIdx].(string)
		}
		if st.tomb != nil && st.tomb.ord > o {
			o = st.tomb.ord
		}
		// a change older than the latest truncate was emptied by it
		return max(o, progress.TruncatedAt)
	}
	// removedAt holds, per ordering key, the row a delete just removed: a
	// create at the same ordering key is the other half of a key change.
	removedAt := map[string][]any{}
	remove := func(st *keyState, ch *change, before map[int]any) {
		st.touched = true
		if live(st.row) {
			removedAt[ch.ord] = slices.Clone(st.row)
		}
		if soft {
			row := st.row
			if row == nil {
				row = make([]any, len(schema.Fields))
				for i, v := range before {
					row[i] = v
				}
				for i, ki := range keyIdx {
					row[ki] = st.key[i]
				}
			} else {
				row = slices.Clone(row)
			}
			stamp(row, ch, schemas.OpDelete)
			st.row = row
			return
		}
		st.row = nil
		st.tomb = &tombstone{key: st.key, ord: ch.ord, deletedAt: j.now}
		st.tombDirty = true
		tombsChanged = true
	}
	for i := range changes {
		ch := &changes[i]
		if ch.oldKey != nil {
			if st := state(ch.oldKey); ch.ord > current(st) {
				remove(st, ch, nil)
			}
		}
		st := state(ch.key)
		// A snapshot read at exactly the row's ordering key is the
		// source's state at that same position again (a backfill or
		// validate --repair on a quiet MySQL server reads at the position
		// the first snapshot did): applying it is idempotent, and it is
		// how such a reload repairs a row corrupted in the lake. No change
		// event shares a snapshot's key, so nothing else is re-applied.
		if cur := current(st); ch.ord < cur || ch.ord == cur && ch.op != schemas.OpRead {
			rep.ChangesSkipped++
			continue
		}
		rep.ChangesApplied++
		if ch.ord > progress.OrderingKey {
			progress.OrderingKey = ch.ord
		}
		if ms := ch.sourceTs.UnixMilli(); !ch.sourceTs.IsZero() && ms > progress.SourceTsMs {
			progress.SourceTsMs = ms
		}
		if ch.op == schemas.OpDelete {
			remove(st, ch, ch.values)
			continue
		}
		var row []any
		if live(st.row) {
			row = slices.Clone(st.row)
		} else if prev, ok := removedAt[ch.ord]; ok {
			// The new key of a key change: columns the change left out
			// (unchanged TOAST, minimal row image) keep the old row's values.
			row = prev
		} else {
			row = make([]any, len(schema.Fields))
		}
		for i, v := range ch.values {
			row[i] = v
		}
		for i, ki := range keyIdx {
			row[ki] = ch.key[i]
		}
		stamp(row, ch, ch.op)
		st.row = row
		st.touched = true
	}

	// Output rows and tombstones.
	expireBefore := j.now.Add(-j.cfg.TombstoneRetention)
	for ks, st := range states {
		if st.row != nil && (st.touched || !st.inDV) {
			out = append(out, st.row)
		}
		fin := live(st.row)
		switch {
		case !st.initLive && fin:
			rep.RowsInserted++
		case st.initLive && fin && st.touched:
			rep.RowsUpdated++
		case st.initLive && !fin:
			rep.RowsDeleted++
		}
		if tombs == nil {
			continue
		}
		if st.tombDirty {
			tombs[ks] = st.tomb
		}
		if tb := tombs[ks]; tb != nil && st.row != nil {
			if o, _ := st.row[ordIdx].(string); o > tb.ord {
				delete(tombs, ks) // superseded by a newer row
				tombsChanged = true
			}
		}
	}
	for ks, tb := range tombs {
		// a truncate's watermark guards every key older than it
		if tb.deletedAt.Before(expireBefore) || tb.ord < progress.TruncatedAt {
			delete(tombs, ks)
			tombsChanged = true
		}
	}
	opts := datafile.Options{Now: j.cfg.Now}
	dirty := widened || truncated
	for _, st := range states {
		dirty = dirty || st.touched
	}
	if !dirty {
		// every change was older than what the table holds: nothing to rewrite
		hit, out, dvFiles = nil, nil, nil
		rep.RowsRewritten = 0
	}
	dvRemoved, dvAdded, dvRows, err := writeDeletionVectors(ctx, j.table.Store(), dvFiles)
	if err != nil {
		return err
	}
	rep.FilesDeletionVectored, rep.RowsDeletionVectored = len(dvAdded), dvRows
	sortRows(out, keyIdx)
	adds, err := writeSorted(ctx, j.table.Store(), schema, out, func(r []any) any { return r[keyIdx[0]] }, bounds,
		fileLimits{rows: j.cfg.TargetFileRows, bytes: j.cfg.TargetFileBytes, numIndexedCols: numIndexed}, opts)
	if err != nil {
		return err
	}
	rep.RowsWritten = int64(len(out))
	if tombsChanged {
		if err := saveTombstones(ctx, tombTable, tombSnap, tombSchema, tombs, opts); err != nil {
			if errors.Is(err, lakelog.ErrConflict) {
				return errRetry
			}
			return err
		}
	}
	return j.commit(ctx, snap, rep, newMeta, newProto, append(hit, dvRemoved...), append(adds, dvAdded...), &progress)
}

// toChange converts a decoded event to table terms.
func (j *tableJob) toChange(d decoded, schema *lakelog.StructType, index map[string]int, key []string, keyIdx []int) (change, error) {
	ch := change{ord: d.ev.ordKey, op: d.env.Op, sourceTs: d.ev.sourceTs}
	image := d.env.After
	if ch.op == schemas.OpDelete {
		image = d.env.Before
	}
	cols := d.env.Columns()
	var err error
	if ch.values, err = rowValues(d, image, cols, schema, index); err != nil {
		return change{}, err
	}
	var kafka map[int]any
	ch.key = make([]any, len(key))
	for i, ki := range keyIdx {
		v, ok := ch.values[ki]
		if !ok || v == nil {
			if kafka == nil {
				fields, err := kafkaKeyFields(d.ev.key)
				if err != nil {
					return change{}, fmt.Errorf("%s: %w", d.ev, err)
				}
				if kafka, err = rowValues(d, fields, cols, schema, index); err != nil {
					return change{}, err
				}
				if kafka == nil {
					kafka = map[int]any{}
				}
			}
			v = kafka[ki]
		}
		if v == nil {
			return change{}, fmt.Errorf("%s: no value for primary key column %q", d.ev, key[i])
		}
		ch.key[i] = v
	}
	if ch.op == schemas.OpUpdate && d.env.Before != nil {
		before, err := rowValues(d, d.env.Before, cols, schema, index)
		if err != nil {
			return change{}, err
		}
		old := make([]any, len(keyIdx))
		complete := true
		for i, ki := range keyIdx {
			v, ok := before[ki]
			if !ok || v == nil {
				complete = false
				break
			}
			old[i] = v
		}
		if complete && compareKeys(old, ch.key) != 0 {
			ch.oldKey = old
		}
	}
	return ch, nil
}

func (j *tableJob) previousProgress(snap *lakelog.Snapshot) Progress {
	var p Progress
	if snap != nil {
		if cfg, ok := snap.Domain(ProgressDomain); ok {
			_ = json.Unmarshal([]byte(cfg), &p)
		}
	}
	return p
}

// commit writes the table's merge commit: schema/protocol changes, removes
// of the rewritten files, the new files, the txn and the progress domain.
// With no files it only advances the progress.
func (j *tableJob) commit(ctx context.Context, snap *lakelog.Snapshot, rep *TableReport, meta *lakelog.Metadata, proto *lakelog.Protocol, removed, added []*lakelog.Add, progress *Progress) error {
	if progress == nil {
		p := j.previousProgress(snap)
		progress = &p
	}
	progress.RawVersion = j.to
	progress.MergedAt = j.now.UnixMilli()
	tx := snap.Begin("MERGE")
	if proto != nil {
		tx.SetProtocol(*proto)
	}
	if meta != nil {
		tx.SetMetadata(*meta)
	}
	for _, f := range removed {
		tx.RemoveFile(f, true)
	}
	tx.ReadFiles(paths(removed)...)
	tx.Add(added...)
	tx.SetAppVersion(AppID, j.to)
	tx.SetDomain(lakelog.DomainMetadata{Domain: ProgressDomain, Configuration: mustJSON(progress)})
	tx.SetOperationParameters(map[string]any{"source": j.id.String(), "rawVersionFrom": strconv.FormatInt(rep.FromRawVersion, 10), "rawVersionTo": strconv.FormatInt(j.to, 10)})
	v, err := tx.Commit(ctx)
	if err != nil {
		return err
	}
	rep.Version = v
	rep.FilesAdded, rep.FilesRemoved = len(added), len(removed)
	rep.OrderingKey, rep.SourceTsMs = progress.OrderingKey, progress.SourceTsMs
	return nil
}

func mergedConf(old, ours map[string]string) map[string]string {
	out := maps.Clone(old)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, ours)
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sortRows sorts rows by the key columns at keyIdx.
func sortRows(rows [][]any, keyIdx []int) {
	slices.SortFunc(rows, func(a, b []any) int {
		for _, ki := range keyIdx {
			if c := compareValues(a[ki], b[ki]); c != 0 {
				return c
			}
		}
		return 0
	})
}
