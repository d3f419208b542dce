package merge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/schemas"
)

// Report says what one Run did.
type Report struct {
	// RawVersion is the raw table version the run merged up to.
	RawVersion int64
	// FromRawVersion is the version after which raw commits were read.
	FromRawVersion          int64
	FilesRead, FilesSkipped int
	// Passes is how many raw version ranges the run merged one after the
	// other (Config.MaxPassBytes); Tables add up over them.
	Passes int
	Tables []TableReport
}

// TableReport is one SCD1 table's share of a run.
type TableReport struct {
	Table    string // source table, schemas.TableID.String()
	Location string // key prefix in the warehouse
	// FromRawVersion is the raw version the table had merged before (-1:
	// none); ToRawVersion the one it is complete to after a successful run.
	FromRawVersion, ToRawVersion int64
	// ChangesRead counts changes newer than FromRawVersion; of them
	// ChangesApplied moved a row and ChangesSkipped were older than or equal
	// to what the row (or its tombstone) already reflected.
	ChangesRead, ChangesApplied, ChangesSkipped int
	RowsInserted, RowsUpdated, RowsDeleted      int64
	// RowsRewritten counts existing rows read from files that were
	// rewritten; RowsWritten all rows of the new files.
	RowsRewritten, RowsWritten int64
	FilesAdded, FilesRemoved   int
	Version                    int64  // the table commit, -1 when none was made
	OrderingKey                string // freshness: greatest ordering key merged
	SourceTsMs                 int64  // freshness: greatest source commit time merged
	Err                        error  // this table failed; other tables went on

	// RowsScanned counts rows whose key columns were read to place
	// deletion vectors; FilesDeletionVectored the files that got a new
	// DV instead of a rewrite, RowsDeletionVectored the rows it added.
	RowsScanned, RowsDeletionVectored int64
	FilesDeletionVectored             int
}

// catalogKey holds which topics feed which source tables, so a run knows
// the tables to look at before reading raw data. It is an optimisation
// only: a lost or stale catalog makes the next run read more of the raw
// table, never merge anything twice (each table's txn decides that).
const catalogKey = "_sluice_merge/catalog.json"

type catalog struct {
	Topics map[string][]catalogTable `json:"topics"`
}

type catalogTable struct {
	DB     string `json:"db"`
	Schema string `json:"schema,omitempty"`
	Table  string `json:"table"`
}

func (c catalogTable) id() schemas.TableID {
	return schemas.TableID{Database: c.DB, Schema: c.Schema, Table: c.Table}
}

// Run merges the raw table's commits that are newer than what each SCD1
// table has merged into those tables (see the package doc). A failing
// table does not stop the others; the returned error joins every table's
// error (and is also in its TableReport). Run is safe to rerun at any
// time, including after a crash: every table merges each raw commit
// exactly once. A backlog of more than Config.MaxPassBytes of raw files is
// merged in passes (passes.go). Concurrent Runs on the same tables are safe (one retries
// after a conflict) but waste work.
func Run(ctx context.Context, raw *lakelog.Table, warehouse blob.Store, cfg Config, logger *slog.Logger) (*Report, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DeleteMode != DeleteHard && cfg.DeleteMode != DeleteSoft {
		return nil, fmt.Errorf("merge: delete mode %q, want hard or soft", cfg.DeleteMode)
	}
	now := cfg.Now().UTC().Truncate(time.Microsecond)
	rawSnap, err := raw.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("merge: raw table: %w", err)
	}
	to := rawSnap.Version()
	if cfg.HoldBack != nil {
		if cfg.held, err = cfg.HoldBack(ctx, rawSnap); err != nil {
			return nil, fmt.Errorf("merge: hold back: %w", err)
		}
	}
	rep := &Report{RawVersion: to}
	root := blob.Sub(warehouse, strings.Trim(cfg.TablesRoot, "/"))
	cat, err := loadCatalog(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	openTable := func(id schemas.TableID) *lakelog.Table {
		return lakelog.Open(blob.Sub(warehouse, cfg.tableConfig(id).Location), lakelog.Options{Logger: logger, Now: cfg.Now})
	}

	// How far each known table is. A table whose log cannot be read fails
	// alone: the others merge without waiting for it (it is left out of
	// merged, so it does not hold back where the scan starts).
	merged := map[schemas.TableID]int64{}
	failed := map[schemas.TableID]bool{}
	var loadFailed []TableReport
	for _, tables := range cat.Topics {
		for _, ct := range tables {
			id := ct.id()
			if _, ok := merged[id]; ok || failed[id] || !cfg.selected(id) {
				continue
			}
			v := int64(-1)
			snap, err := openTable(id).Snapshot(ctx)
			switch {
			case errors.Is(err, lakelog.ErrNoTable):
			case err != nil:
				if ctx.Err() != nil {
					return nil, fmt.Errorf("merge: table %s: %w", id, err)
				}
				failed[id] = true
				tr := TableReport{Table: id.String(), Location: cfg.tableConfig(id).Location, FromRawVersion: -1, ToRawVersion: to, Version: -1,
					Err: fmt.Errorf("table %s: %w", id, err)}
				loadFailed = append(loadFailed, tr)
				logger.Error("merge failed", "table", id.String(), "err", tr.Err)
				continue
			default:
				if av, ok := snap.AppVersion(AppID); ok {
					v = av
				}
			}
			merged[id] = v
		}
	}
	// The version each topic is merged to: the least of its tables; -1 for
	// topics the catalog does not know yet.
	topicMerged := map[string]int64{}
	for _, topic := range rawTopics(rawSnap) {
		tables, ok := cat.Topics[topic]
		if !ok {
			topicMerged[topic] = -1
			continue
		}
		v, any := int64(1<<62), false
		for _, ct := range tables {
			if mv, ok := merged[ct.id()]; ok {
				v, any = min(v, mv), true
			}
		}
		if any {
			topicMerged[topic] = v
		}
	}
	from := to
	for _, v := range topicMerged {
		from = min(from, v)
	}
	for _, v := range merged {
		from = min(from, v)
	}
	if len(topicMerged) == 0 && len(merged) == 0 && len(failed) == 0 {
		from = -1 // no ingest txns to go by: read everything
	}
	rep.FromRawVersion = from

	ends, commits, err := planPasses(ctx, raw, from, to, topicMerged, cfg.MaxPassBytes)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	p := &passes{raw: raw, rawSnap: rawSnap, root: root, cat: cat, merged: merged, topicMerged: topicMerged,
		cfg: &cfg, openTable: openTable, now: now, logger: logger, rep: rep, failed: failed, commits: commits}
	err = p.run(ctx, from, ends)
	if len(loadFailed) > 0 {
		errs := []error{err}
		for _, tr := range loadFailed {
			errs = append(errs, tr.Err)
		}
		rep.Tables = append(rep.Tables, loadFailed...)
		slices.SortFunc(rep.Tables, func(a, b TableReport) int { return strings.Compare(a.Table, b.Table) })
		err = errors.Join(errs...)
	}
	return rep, err
}

// rawTopics lists the topics ingest has recorded txns for.
func rawTopics(s *lakelog.Snapshot) []string {
	var out []string
	for app := range s.AppVersions() {
		rest, ok := strings.CutPrefix(app, schemas.IngestAppIDPrefix)
		if !ok {
			continue
		}
		if i := strings.LastIndexByte(rest, '|'); i >= 0 {
			rest = rest[:i]
		}
		if !slices.Contains(out, rest) {
			out = append(out, rest)
		}
	}
	slices.Sort(out)
	return out
}

// scanRaw reads the data files added (dataChange=true) by raw commits in
// (from, to], which commits yields, and routes their change rows to source tables. A file is
// skipped when its topic range holds no topic that still needs the
// commit; a row when its table has merged the commit or is not selected.
func scanRaw(ctx context.Context, raw *lakelog.Table, rawSnap *lakelog.Snapshot, from, to int64, commits iter.Seq2[lakelog.Commit, error], topicMerged map[string]int64, cfg *Config, rep *Report) (map[schemas.TableID][]*rawEvent, map[string][]schemas.TableID, error) {
	events := map[schemas.TableID][]*rawEvent{}
	learned := map[string][]schemas.TableID{}
	if from >= to {
		return events, learned, nil
	}
	schema := rawSnap.Schema()
	col := map[string]int{}
	for i, f := range schema.Fields {
		col[f.Name] = i
	}
	for _, name := range []string{schemas.RawColTopic, schemas.RawColValue, schemas.RawColOp, schemas.RawColSourceDB, schemas.RawColSourceTable} {
		if _, ok := col[name]; !ok {
			return nil, nil, fmt.Errorf("raw table has no column %q", name)
		}
	}
	str := func(row []any, name string) string {
		i, ok := col[name]
		if !ok {
			return ""
		}
		s, _ := row[i].(string)
		return s
	}
	bin := func(row []any, name string) []byte {
		b, _ := row[col[name]].([]byte)
		return b
	}
	for c, err := range commits {
		if err != nil {
			return nil, nil, fmt.Errorf("raw table: %w", err)
		}
		wanted := wantedTopics(topicMerged, c.Version)
		for _, a := range c.Actions {
			if a.Add == nil || !a.Add.DataChange {
				continue // compaction rewrites carry no new data
			}
			if len(topicMerged) > 0 && !topicInRange(a.Add, wanted) {
				rep.FilesSkipped++
				continue
			}
			rep.FilesRead++
			err := readRows(ctx, raw.Store(), []*lakelog.Add{a.Add}, schema, func(row []any) {
				topic := str(row, schemas.RawColTopic)
				if v, ok := topicMerged[topic]; ok && v >= c.Version {
					return
				}
				if str(row, schemas.RawColOp) == "" || row[col[schemas.RawColValue]] == nil {
					return // Kafka tombstone or not a change
				}
				id := schemas.TableID{Database: str(row, schemas.RawColSourceDB), Schema: str(row, schemas.RawColSourceSchema), Table: str(row, schemas.RawColSourceTable)}
				if id.Table == "" || !cfg.selected(id) {
					return
				}
				if !slices.Contains(learned[topic], id) {
					learned[topic] = append(learned[topic], id)
				}
				ev := &rawEvent{rawVersion: c.Version, topic: topic, ordKey: str(row, schemas.RawColOrderingKey), key: bin(row, schemas.RawColKey), value: bin(row, schemas.RawColValue)}
				if i, ok := col[schemas.RawColPartition]; ok {
					ev.partition, _ = row[i].(int32)
				}
				if i, ok := col[schemas.RawColOffset]; ok {
					ev.offset, _ = row[i].(int64)
				}
				if i, ok := col[schemas.RawColSourceTs]; ok {
					ev.sourceTs, _ = row[i].(time.Time)
				}
				events[id] = append(events[id], ev)
			})
			if err != nil {
				return nil, nil, fmt.Errorf("raw version %d: %w", c.Version, err)
			}
		}
	}
	return events, learned, nil
}

// topicInRange reports whether the file's topic stats admit a wanted topic.
func topicInRange(a *lakelog.Add, wanted []string) bool {
	r := fileKeyRange(a, schemas.RawColTopic, lakelog.TypeString)
	for _, t := range wanted {
		if r.mayContain(t) {
			return true
		}
	}
	return false
}

func loadCatalog(ctx context.Context, store blob.Store) (*catalog, error) {
	c := &catalog{Topics: map[string][]catalogTable{}}
	rc, err := store.Get(ctx, catalogKey)
	if errors.Is(err, blob.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", catalogKey, err)
	}
	if c.Topics == nil {
		c.Topics = map[string][]catalogTable{}
	}
	return c, nil
}

func (c *catalog) learn(learned map[string][]schemas.TableID) bool {
	changed := false
	for topic, ids := range learned {
		for _, id := range ids {
			ct := catalogTable{DB: id.Database, Schema: id.Schema, Table: id.Table}
			if !slices.Contains(c.Topics[topic], ct) {
				c.Topics[topic] = append(c.Topics[topic], ct)
				changed = true
			}
		}
	}
	return changed
}

func saveCatalog(ctx context.Context, store blob.Store, c *catalog) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return err
	}
	return store.Put(ctx, catalogKey, buf.Bytes())
}
