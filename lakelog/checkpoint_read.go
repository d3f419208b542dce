package lakelog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// This file reads checkpoints (§Checkpoints): classic single-part and
// multi-part Parquet checkpoints, and v2 checkpoints (a top-level JSON or
// Parquet file with checkpointMetadata and sidecar actions, the sidecars
// holding add/remove actions in _delta_log/_sidecars/).
//
// Parquet rows are decoded by walking the file's own schema (no reflection
// and no struct mapping), so any nesting Spark, delta-rs or kernel wrote —
// 2- or 3-level lists, nullable map values, extra columns such as
// stats_parsed and partitionValues_parsed (ignored) — decodes the same way.

// sidecarDir is where v2 checkpoint sidecar files live.
const sidecarDir = logDir + "_sidecars/"

// readCheckpoint streams every action of checkpoint cp to fn, sidecars
// included. Actions in a checkpoint never reconcile with each other, so
// their order does not matter.
func (t *Table) readCheckpoint(ctx context.Context, cp *checkpointRef, fn func(*Action) error) error {
	var sidecars []*Sidecar
	collect := func(a *Action) error {
		if a.Sidecar != nil {
			sidecars = append(sidecars, a.Sidecar)
			return nil
		}
		return fn(a)
	}
	for _, key := range cp.keys {
		data, err := readAll(ctx, t.store, key)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", cp.version, err)
		}
		if strings.HasSuffix(key, ".json") {
			err = decodeJSONActions(data, collect)
		} else {
			err = decodeParquetActions(data, collect)
		}
		if err != nil {
			return fmt.Errorf("checkpoint %d: %s: %w", cp.version, key, err)
		}
	}
	for _, sc := range sidecars {
		key, err := sidecarKey(sc.Path)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", cp.version, err)
		}
		data, err := readAll(ctx, t.store, key)
		if err != nil {
			return fmt.Errorf("checkpoint %d: sidecar: %w", cp.version, err)
		}
		if strings.HasSuffix(key, ".json") {
			err = decodeJSONActions(data, fn)
		} else {
			err = decodeParquetActions(data, fn)
		}
		if err != nil {
			return fmt.Errorf("checkpoint %d: sidecar %s: %w", cp.version, key, err)
		}
	}
	return nil
}

// sidecarKey resolves a sidecar action's path: normally a bare file name in
// _delta_log/_sidecars/, possibly a URI ending in that directory.
func sidecarKey(p string) (string, error) {
	d, err := DecodePath(p)
	if err != nil {
		return "", err
	}
	if i := strings.LastIndex(d, "/_sidecars/"); i >= 0 {
		d = d[i+len("/_sidecars/"):]
	}
	if d == "" || strings.Contains(d, "/") {
		return "", fmt.Errorf("sidecar path %q: not a file in %s", p, sidecarDir)
	}
	return sidecarDir + d, nil
}

// decodeJSONActions decodes newline-delimited JSON actions.
func decodeJSONActions(data []byte, fn func(*Action) error) error {
	actions, err := DecodeCommit(data)
	if err != nil {
		return err
	}
	for i := range actions {
		if err := fn(&actions[i]); err != nil {
			return err
		}
	}
	return nil
}

// decodeParquetActions decodes a Parquet checkpoint (or sidecar) file, one
// action per row, streaming rows in small batches.
func decodeParquetActions(data []byte, fn func(*Action) error) error {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), &parquet.FileConfig{
		SkipPageIndex:    true,
		SkipBloomFilters: true,
	})
	if err != nil {
		return fmt.Errorf("open parquet: %w", err)
	}
	dec := newActionDecoder(f.Root())
	buf := make([]parquet.Row, 64)
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for i := range n {
				a, ok, derr := dec.decode(buf[i])
				if derr != nil {
					rows.Close()
					return derr
				}
				if ok {
					if err := fn(&a); err != nil {
						rows.Close()
						return err
					}
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("read rows: %w", err)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// actionDecoder turns a checkpoint row into an Action using the file's
// schema. Columns an older or newer writer did not write are nil and decode
// as absent.
type actionDecoder struct {
	byCol [][]parquet.Value // the current row's values, per leaf column

	add, remove, meta, proto, txn, domain, cpMeta, sidecar *parquet.Column
}

func newActionDecoder(root *parquet.Column) *actionDecoder {
	return &actionDecoder{
		add:     root.Column("add"),
		remove:  root.Column("remove"),
		meta:    root.Column("metaData"),
		proto:   root.Column("protocol"),
		txn:     root.Column("txn"),
		domain:  root.Column("domainMetadata"),
		cpMeta:  root.Column("checkpointMetadata"),
		sidecar: root.Column("sidecar"),
	}
}

// decode decodes one row; ok is false for a row holding no action we know
// (e.g. commitInfo or cdc, which checkpoints should not contain).
func (d *actionDecoder) decode(row parquet.Row) (a Action, ok bool, err error) {
	d.index(row)
	switch {
	case d.present(d.add):
		c := d.add
		add := &Add{
			Path:               d.str(child(c, "path")),
			PartitionValues:    d.strPtrMap(child(c, "partitionValues")),
			Size:               d.i64(child(c, "size")),
			ModificationTime:   d.i64(child(c, "modificationTime")),
			DataChange:         d.boolean(child(c, "dataChange")),
			Stats:              d.str(child(c, "stats")),
			Tags:               d.strMap(child(c, "tags")),
			DeletionVector:     d.dv(child(c, "deletionVector")),
			BaseRowID:          d.i64Ptr(child(c, "baseRowId")),
			ClusteringProvider: d.str(child(c, "clusteringProvider")),
		}
		add.DefaultRowCommitVersion = d.i64Ptr(child(c, "defaultRowCommitVersion"))
		if add.PartitionValues == nil {
			add.PartitionValues = map[string]*string{}
		}
		if add.Path == "" {
			return a, false, errors.New("add row without path")
		}
		return Action{Add: add}, true, nil
	case d.present(d.remove):
		c := d.remove
		r := &Remove{
			Path:                    d.str(child(c, "path")),
			DeletionTimestamp:       d.i64Ptr(child(c, "deletionTimestamp")),
			DataChange:              d.boolean(child(c, "dataChange")),
			ExtendedFileMetadata:    d.boolPtr(child(c, "extendedFileMetadata")),
			PartitionValues:         d.strPtrMap(child(c, "partitionValues")),
			Size:                    d.i64Ptr(child(c, "size")),
			Stats:                   d.str(child(c, "stats")),
			Tags:                    d.strMap(child(c, "tags")),
			DeletionVector:          d.dv(child(c, "deletionVector")),
			BaseRowID:               d.i64Ptr(child(c, "baseRowId")),
			DefaultRowCommitVersion: d.i64Ptr(child(c, "defaultRowCommitVersion")),
		}
		if r.Path == "" {
			return a, false, errors.New("remove row without path")
		}
		return Action{Remove: r}, true, nil
	case d.present(d.meta):
		c := d.meta
		m := &Metadata{
			ID:               d.str(child(c, "id")),
			Name:             d.str(child(c, "name")),
			Description:      d.str(child(c, "description")),
			SchemaString:     d.str(child(c, "schemaString")),
			PartitionColumns: d.strList(child(c, "partitionColumns")),
			Configuration:    d.strMap(child(c, "configuration")),
			CreatedTime:      d.i64Ptr(child(c, "createdTime")),
		}
		if f := child(c, "format"); d.present(f) {
			m.Format = Format{Provider: d.str(child(f, "provider")), Options: d.strMap(child(f, "options"))}
		}
		if m.PartitionColumns == nil {
			m.PartitionColumns = []string{}
		}
		if m.Configuration == nil {
			m.Configuration = map[string]string{}
		}
		return Action{MetaData: m}, true, nil
	case d.present(d.proto):
		c := d.proto
		return Action{Protocol: &Protocol{
			MinReaderVersion: int(d.i64(child(c, "minReaderVersion"))),
			MinWriterVersion: int(d.i64(child(c, "minWriterVersion"))),
			ReaderFeatures:   d.strList(child(c, "readerFeatures")),
			WriterFeatures:   d.strList(child(c, "writerFeatures")),
		}}, true, nil
	case d.present(d.txn):
		c := d.txn
		return Action{Txn: &SetTransaction{
			AppID:       d.str(child(c, "appId")),
			Version:     d.i64(child(c, "version")),
			LastUpdated: d.i64Ptr(child(c, "lastUpdated")),
		}}, true, nil
	case d.present(d.domain):
		c := d.domain
		return Action{DomainMetadata: &DomainMetadata{
			Domain:        d.str(child(c, "domain")),
			Configuration: d.str(child(c, "configuration")),
			Removed:       d.boolean(child(c, "removed")),
		}}, true, nil
	case d.present(d.cpMeta):
		c := d.cpMeta
		return Action{CheckpointMetadata: &CheckpointMetadata{
			Version: d.i64(child(c, "version")),
			Tags:    d.strMap(child(c, "tags")),
		}}, true, nil
	case d.present(d.sidecar):
		c := d.sidecar
		return Action{Sidecar: &Sidecar{
			Path:             d.str(child(c, "path")),
			SizeInBytes:      d.i64(child(c, "sizeInBytes")),
			ModificationTime: d.i64(child(c, "modificationTime")),
			Tags:             d.strMap(child(c, "tags")),
		}}, true, nil
	}
	return a, false, nil
}

// index groups the row's values by leaf column. A row holds its values
// ordered by column index.
func (d *actionDecoder) index(row parquet.Row) {
	d.byCol = d.byCol[:0]
	start := 0
	for i := 1; i <= len(row); i++ {
		if i == len(row) || row[i].Column() != row[start].Column() {
			col := row[start].Column()
			for len(d.byCol) < col {
				d.byCol = append(d.byCol, nil)
			}
			d.byCol = append(d.byCol, row[start:i])
			start = i
		}
	}
}

// values returns the current row's values for leaf column c.
func (d *actionDecoder) values(c *parquet.Column) []parquet.Value {
	if c == nil || !c.Leaf() || c.Index() >= len(d.byCol) {
		return nil
	}
	return d.byCol[c.Index()]
}

// child returns c's field name, or nil when c is nil or has no such field.
func child(c *parquet.Column, name string) *parquet.Column {
	if c == nil {
		return nil
	}
	return c.Column(name)
}

// firstLeaf returns the first leaf column under c.
func firstLeaf(c *parquet.Column) *parquet.Column {
	for c != nil && !c.Leaf() {
		cols := c.Columns()
		if len(cols) == 0 {
			return nil
		}
		c = cols[0]
	}
	return c
}

// present reports whether (optional) group or leaf c is non-null in the
// current row: its first leaf's definition level reaches c's own level.
func (d *actionDecoder) present(c *parquet.Column) bool {
	v := d.values(firstLeaf(c))
	if len(v) == 0 {
		return false
	}
	return v[0].DefinitionLevel() >= c.MaxDefinitionLevel()
}

// scalar returns the value of leaf c, or ok=false when it is null.
func (d *actionDecoder) scalar(c *parquet.Column) (parquet.Value, bool) {
	v := d.values(c)
	if len(v) == 0 || v[0].IsNull() {
		return parquet.Value{}, false
	}
	return v[0], true
}

func (d *actionDecoder) str(c *parquet.Column) string {
	v, ok := d.scalar(c)
	if !ok {
		return ""
	}
	return string(v.ByteArray())
}

func (d *actionDecoder) i64Ptr(c *parquet.Column) *int64 {
	v, ok := d.scalar(c)
	if !ok {
		return nil
	}
	n := valueInt64(v)
	return &n
}

func (d *actionDecoder) i64(c *parquet.Column) int64 {
	v, ok := d.scalar(c)
	if !ok {
		return 0
	}
	return valueInt64(v)
}

func valueInt64(v parquet.Value) int64 {
	if v.Kind() == parquet.Int32 {
		return int64(v.Int32())
	}
	return v.Int64()
}

func (d *actionDecoder) boolean(c *parquet.Column) bool {
	v, ok := d.scalar(c)
	return ok && v.Boolean()
}

func (d *actionDecoder) boolPtr(c *parquet.Column) *bool {
	v, ok := d.scalar(c)
	if !ok {
		return nil
	}
	b := v.Boolean()
	return &b
}

func (d *actionDecoder) dv(c *parquet.Column) *DeletionVector {
	if c == nil || !d.present(c) {
		return nil
	}
	dv := &DeletionVector{
		StorageType:    d.str(child(c, "storageType")),
		PathOrInlineDv: d.str(child(c, "pathOrInlineDv")),
		SizeInBytes:    int32(d.i64(child(c, "sizeInBytes"))),
		Cardinality:    d.i64(child(c, "cardinality")),
	}
	if v, ok := d.scalar(child(c, "offset")); ok {
		off := int32(valueInt64(v))
		dv.Offset = &off
	}
	return dv
}

// mapEntries returns the key/value leaves and the repeated entry group of
// map column c, whatever the group names (key_value or map).
func mapEntries(c *parquet.Column) (kv, key, val *parquet.Column) {
	if c == nil || c.Leaf() || len(c.Columns()) != 1 {
		return nil, nil, nil
	}
	kv = c.Columns()[0]
	if kv.Leaf() || len(kv.Columns()) != 2 {
		return nil, nil, nil
	}
	return kv, kv.Columns()[0], kv.Columns()[1]
}

// strPtrMap decodes a map<string,string> whose values may be null.
func (d *actionDecoder) strPtrMap(c *parquet.Column) map[string]*string {
	kv, key, val := mapEntries(c)
	if kv == nil || !d.present(c) {
		return nil
	}
	keys, vals := d.values(key), d.values(val)
	m := make(map[string]*string, len(keys))
	for i, k := range keys {
		if k.DefinitionLevel() < kv.MaxDefinitionLevel() || i >= len(vals) {
			continue // an empty map
		}
		if vals[i].IsNull() {
			m[string(k.ByteArray())] = nil
			continue
		}
		s := string(vals[i].ByteArray())
		m[string(k.ByteArray())] = &s
	}
	return m
}

// strMap decodes a map<string,string>, dropping null values.
func (d *actionDecoder) strMap(c *parquet.Column) map[string]string {
	kv, key, val := mapEntries(c)
	if kv == nil || !d.present(c) {
		return nil
	}
	keys, vals := d.values(key), d.values(val)
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		if k.DefinitionLevel() < kv.MaxDefinitionLevel() || i >= len(vals) || vals[i].IsNull() {
			continue
		}
		m[string(k.ByteArray())] = string(vals[i].ByteArray())
	}
	return m
}

// strList decodes a list<string> written with 3-level (list.element) or
// legacy 2-level encoding; null elements are dropped.
func (d *actionDecoder) strList(c *parquet.Column) []string {
	if c == nil || c.Leaf() || len(c.Columns()) != 1 || !d.present(c) {
		return nil
	}
	rep := c.Columns()[0]
	elem := rep
	if !rep.Leaf() {
		if len(rep.Columns()) != 1 {
			return nil
		}
		elem = rep.Columns()[0]
	}
	vals := d.values(elem)
	list := make([]string, 0, len(vals))
	for _, v := range vals {
		if v.DefinitionLevel() < rep.MaxDefinitionLevel() || v.IsNull() {
			continue
		}
		list = append(list, string(v.ByteArray()))
	}
	return list
}
