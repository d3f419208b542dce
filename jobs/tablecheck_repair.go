package jobs

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/snapshot"
)

// RepairInfo is what `validate --table --repair` did.
type RepairInfo struct {
	// SnapshotID names the reload in the raw table (batch ids
	// "snapshot|<id>|…", appIds "sluice-snapshot|<id>|…").
	SnapshotID string `json:"snapshot_id"`
	// Where is the predicate the reload ran at the source: the differing
	// keys, or the key ranges holding them when they are many or of a type
	// without a plain literal. Rows outside the differing keys are dropped
	// before they reach the raw table either way.
	Where string `json:"where"`
	// ReloadedRows were read again at the source (op "r" at a new view);
	// DeletedKeys got an op "d" at the validated position.
	ReloadedRows int64   `json:"reloaded_rows"`
	DeletedKeys  int64   `json:"deleted_keys"`
	RawVersions  []int64 `json:"raw_versions"`
	// SCD1Version is the SCD1 table's version after the merge of this
	// table, which repair runs itself.
	SCD1Version int64 `json:"scd1_version"`
}

// maxKeyList is the most keys a reload selects by list; more use ranges.
const maxKeyList = 1000

// repair reloads the keys that are missing in the lake or changed, writes
// deletes for the keys the source lacks, then merges the table. Reloaded
// rows carry a new view's position and deletes the validated position P,
// so the merge's ordering guard applies them only over older lake rows:
// a change made at the source after P still wins.
func (ck *tableChecker) repair(ctx context.Context) error {
	id := fmt.Sprintf("validate-%d", ck.opts.Now().UnixMilli())
	info := &RepairInfo{SnapshotID: id, SCD1Version: -1}
	ck.res.Repair = info
	scfg := snapshot.Config{SnapshotID: id, TopicPrefix: ck.sc.TopicPrefix, Now: ck.opts.Now}
	name := ck.res.Table

	if len(ck.reload) > 0 {
		t := *ck.table
		t.Where = ck.reloadWhere()
		info.Where = t.Where
		t.EstimatedRows = int64(len(ck.reload))
		// One chunk: the predicate already selects few rows.
		scfg.ChunkRows = t.EstimatedRows + 1
		keyCols := make([]compareColumn, len(ck.srcKey))
		for i, ki := range ck.srcKey {
			keyCols[i] = ck.cols[ki]
		}
		conv := newSourceConverter(ck.table, keyCols, ck.pos)
		key := make([]any, len(keyCols))
		var kb []byte
		src := &reloadSource{Source: ck.src, table: &t, keep: func(row []any) (bool, error) {
			if err := conv.convert(row, key); err != nil {
				return false, err
			}
			kb = canonKey(kb[:0], key)
			return ck.reloadSet[string(kb)], nil
		}}
		rep, err := snapshot.Run(ctx, src, ck.lk.raw, scfg, nil, ck.log)
		if rep != nil {
			info.ReloadedRows = rep.Rows
			for _, tr := range rep.Tables {
				info.RawVersions = append(info.RawVersions, tr.Commits...)
			}
		}
		if err != nil {
			return fmt.Errorf("table %s: repair: reload: %w", name, err)
		}
	}

	if len(ck.extra) > 0 {
		keys := make([][]any, len(ck.extra))
		for i, k := range ck.extra {
			keys[i] = make([]any, len(k))
			for j, v := range k {
				var err error
				if keys[i][j], err = debeziumKey(ck.cols[ck.srcKey[j]].col, v); err != nil {
					return fmt.Errorf("table %s: repair: delete key %v: %w", name, ck.displayKey(k), err)
				}
			}
		}
		rows, v, err := snapshot.WriteDeletes(ctx, ck.lk.raw, ck.table, keys, ck.pos, scfg)
		if err != nil {
			return fmt.Errorf("table %s: repair: %w", name, err)
		}
		info.DeletedKeys = rows
		if v >= 0 {
			info.RawVersions = append(info.RawVersions, v)
		}
	}
	sort.Slice(info.RawVersions, func(a, b int) bool { return info.RawVersions[a] < info.RawVersions[b] })

	mrep, err := Merge(ctx, ck.cfg, []string{name}, ck.log)
	if err != nil {
		return fmt.Errorf("table %s: repair: the reload is in the raw table, the merge failed (run `sluice merge --table %s`): %w", name, name, err)
	}
	if mrep.Merge != nil {
		for _, tr := range mrep.Merge.Tables {
			if tr.Table == name {
				info.SCD1Version = tr.Version
			}
		}
	}
	return nil
}

// reloadWhere selects the keys to reload at the source: a key list when
// they are few and have plain literals, else the chunks whose ranges hold
// them.
func (ck *tableChecker) reloadWhere() string {
	d := dialectOf(ck.src.Connector())
	if len(ck.reload) <= maxKeyList {
		cols := make([]schemas.Column, len(ck.srcKey))
		for i, ki := range ck.srcKey {
			cols[i] = ck.cols[ki].col
		}
		if w, ok := d.keyListPredicate(cols, ck.reload); ok {
			return w
		}
	}
	chunks := map[int]bool{}
	for _, rd := range ck.res.Differing {
		if rd.MissingInLake+rd.Changed == 0 {
			continue
		}
		for c := range ck.chunksOf[rd.Index] {
			chunks[c] = true
		}
	}
	idx := make([]int, 0, len(chunks))
	for c := range chunks {
		idx = append(idx, c)
	}
	sort.Ints(idx)
	parts := make([]string, len(idx))
	for i, c := range idx {
		parts[i] = d.chunkPredicate(ck.table.Key, ck.chunks[c])
	}
	return strings.Join(parts, " OR ")
}

// WriteText prints the check for a terminal: the positions, one line per
// differing range with its first keys, and what a repair did.
func (c *TableCheck) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "table:          %s (SCD1 table %s)\n", c.Table, c.Location)
	fmt.Fprintf(w, "source read at: %s (ordering key %s)\n", c.Source.Position, c.Source.OrderingKey)
	fmt.Fprintf(w, "lake merged:    through ordering key %s, raw version %d, SCD1 version %d\n", orNone(c.Lake.OrderingKey), c.Lake.RawVersion, c.Lake.Version)
	if c.Note != "" {
		fmt.Fprintf(w, "note:           %s\n", c.Note)
	}
	if len(c.NotInLake) > 0 {
		fmt.Fprintf(w, "not compared:   source columns not in the SCD1 table yet: %s\n", strings.Join(c.NotInLake, ", "))
	}
	fmt.Fprintf(w, "compared:       %d source rows, %d lake rows in %d key ranges\n\n", c.SourceRows, c.LakeRows, c.Ranges)
	if c.Equal {
		_, err := fmt.Fprintln(w, "EQUAL: every key range has the same rows")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANGE\tKEYS (lo, hi]\tSOURCE ROWS\tLAKE ROWS\tMISSING IN LAKE\tEXTRA IN LAKE\tCHANGED\tFIRST KEYS")
	for _, d := range c.Differing {
		var keys []string
		for _, k := range d.Keys {
			keys = append(keys, k.Kind+":"+strings.Join(k.Key, ","))
		}
		fmt.Fprintf(tw, "%d\t(%s, %s]\t%d\t%d\t%d\t%d\t%d\t%s\n", d.Index, boundText(d.Lo, "-inf"), boundText(d.Hi, "+inf"),
			d.SourceRows, d.LakeRows, d.MissingInLake, d.ExtraInLake, d.Changed, strings.Join(keys, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nDIFFERENT: %d of %d key ranges differ\n", len(c.Differing), c.Ranges)
	if r := c.Repair; r != nil {
		fmt.Fprintf(w, "repaired: reloaded %d rows, deleted %d keys (snapshot id %s, raw versions %v), merged: SCD1 version %d\n",
			r.ReloadedRows, r.DeletedKeys, r.SnapshotID, r.RawVersions, r.SCD1Version)
		fmt.Fprintf(w, "run `sluice validate --table %s` again to confirm\n", c.Table)
	} else {
		fmt.Fprintf(w, "run `sluice validate --table %s --repair` to reload exactly these keys\n", c.Table)
	}
	return nil
}

func boundText(b []string, open string) string {
	if b == nil {
		return open
	}
	if len(b) == 1 {
		return b[0]
	}
	return "(" + strings.Join(b, ",") + ")"
}
