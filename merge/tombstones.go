package merge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

// Hard-delete tombstones live in a side Delta table in
// <table>/_sluice_tombstones/: Delta readers ignore directories starting
// with "_", so analysts never see them, while the merge reads them to keep a
// late, older change from resurrecting a deleted row.
//
// The side table is committed BEFORE the main commit. If the merge stops
// between the two, the rerun replays the same raw changes and takes, per
// key, the newer of the row and its tombstone, so a tombstone whose delete
// never reached the main table still removes the row, exactly once.

// tombstoneDir is the side table's location inside the SCD1 table.
const tombstoneDir = "_sluice_tombstones"

const colDeletedAt = "_sluice_deleted_at"

type tombstone struct {
	key       []any
	ord       string
	deletedAt time.Time
}

// tombstoneSchema is key columns + ordering key + deletion time.
func tombstoneSchema(main *lakelog.StructType, keyIdx []int) *lakelog.StructType {
	s := &lakelog.StructType{}
	for _, i := range keyIdx {
		f := main.Fields[i]
		s.Fields = append(s.Fields, &lakelog.StructField{Name: f.Name, Type: f.Type, Nullable: false})
	}
	s.Fields = append(s.Fields,
		&lakelog.StructField{Name: ColOrderingKey, Type: lakelog.TypeString, Nullable: false},
		&lakelog.StructField{Name: colDeletedAt, Type: lakelog.TypeTimestamp, Nullable: false},
	)
	return s
}

// loadTombstones reads every tombstone; snap is nil when the side table
// does not exist yet.
func loadTombstones(ctx context.Context, t *lakelog.Table, schema *lakelog.StructType, nkey int) (map[string]*tombstone, *lakelog.Snapshot, error) {
	out := map[string]*tombstone{}
	snap, err := t.Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		return out, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tombstones: %w", err)
	}
	err = readRows(ctx, t.Store(), snap.Files(), schema, func(row []any) {
		ts, _ := row[nkey+1].(time.Time)
		ord, _ := row[nkey].(string)
		tb := &tombstone{key: row[:nkey], ord: ord, deletedAt: ts}
		out[keyString(tb.key)] = tb
	})
	if err != nil {
		return nil, nil, fmt.Errorf("tombstones: %w", err)
	}
	return out, snap, nil
}

// saveTombstones replaces the side table's content with tombs.
func saveTombstones(ctx context.Context, t *lakelog.Table, snap *lakelog.Snapshot, schema *lakelog.StructType, tombs map[string]*tombstone, opts datafile.Options) error {
	if snap == nil {
		var err error
		snap, err = t.Create(ctx, lakelog.Metadata{SchemaString: schema.String()}, lakelog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2})
		if errors.Is(err, lakelog.ErrTableExists) {
			snap, err = t.Snapshot(ctx)
		}
		if err != nil {
			return fmt.Errorf("tombstones: %w", err)
		}
	}
	rows := make([][]any, 0, len(tombs))
	for _, tb := range tombs {
		row := append(append([]any{}, tb.key...), tb.ord, tb.deletedAt)
		rows = append(rows, row)
	}
	nkey := len(schema.Fields) - 2
	keyIdx := make([]int, nkey)
	for i := range keyIdx {
		keyIdx[i] = i
	}
	sortRows(rows, keyIdx)
	adds, err := writeSorted(ctx, t.Store(), schema, rows, func(r []any) any { return r[0] }, nil, fileLimits{rows: 1 << 20, bytes: 128 << 20, numIndexedCols: -1}, opts)
	if err != nil {
		return fmt.Errorf("tombstones: %w", err)
	}
	tx := snap.Begin("WRITE")
	if snap.Schema().String() != schema.String() {
		tx.SetMetadata(lakelog.Metadata{SchemaString: schema.String(), Format: lakelog.Format{Provider: "parquet", Options: map[string]string{}}, PartitionColumns: []string{}, Configuration: map[string]string{}, CreatedTime: snap.Metadata().CreatedTime})
	}
	for _, f := range snap.Files() {
		tx.RemoveFile(f, true)
	}
	tx.ReadWholeTable()
	tx.Add(adds...)
	if _, err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("tombstones: %w", err)
	}
	return nil
}
