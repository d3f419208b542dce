package snapshot

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// A snapshot or backfill can only insert: it reads the rows a source has.
// A row the lake has but the source lacks (a lost delete, a row written
// into the lake by mistake) needs a delete event. WriteDeletes writes such
// events into the raw table, as op "d" Debezium envelopes exactly like
// capture's deletes (before = the key columns, every other column null),
// so the ordinary merge applies them, guarded by the ordering key: a
// delete at position P removes a lake row older than P and never a row a
// later change wrote.

// deletesChunk is the chunk number in delete rows' offsets
// (partition -1, offset deletesChunk<<32 | row): no table is planned into
// that many chunks, so the offsets never collide with a snapshot row's.
const deletesChunk = 1 << 30

// DeletesAppID is the raw table txn appId that records the deletes of table
// in snapshot snapshotID as committed:
// "sluice-snapshot|<snapshot id>|<db.schema.table>|deletes". Its version is
// the number of delete rows.
func DeletesAppID(snapshotID, table string) string {
	return AppIDPrefix + snapshotID + "|" + table + "|deletes"
}

// WriteDeletes commits one op "d" raw row per key of t at position pos (a
// View.Position taken when the keys were seen absent at the source), in one
// commit with txn appId DeletesAppID(cfg.SnapshotID, table). keys hold the
// primary-key values, aligned with t.Key, in Debezium's representation
// (schemas.Change). It uses cfg.SnapshotID, TopicPrefix, TargetFileBytes
// and Now.
//
// Idempotent per snapshot id: when the appId is already committed it
// writes nothing and returns (0, -1, nil); two concurrent calls conflict on
// the appId and the loser returns (0, -1, nil) too. With no keys it writes
// nothing. The version returned is the raw table version committed.
func WriteDeletes(ctx context.Context, raw *lakelog.Table, t *Table, keys [][]any, pos schemas.Source, cfg Config) (rows, version int64, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return 0, -1, err
	}
	name := t.ID.String()
	if len(t.Key) == 0 {
		return 0, -1, fmt.Errorf("table %s: no primary key: cannot delete by key", name)
	}
	if len(keys) == 0 {
		return 0, -1, nil
	}
	keyIdx := make([]int, len(t.Key))
	cols := make([]schemas.Column, len(t.Columns))
	copy(cols, t.Columns)
	for i := range cols {
		// A delete's before image carries only the key (Debezium with
		// PostgreSQL's default replica identity does the same): every other
		// column is null, so it must be optional.
		cols[i].Optional = true
	}
	for i, k := range t.Key {
		keyIdx[i] = -1
		for j, c := range cols {
			if c.Name == k {
				keyIdx[i] = j
				cols[j].Optional = false
			}
		}
		if keyIdx[i] < 0 {
			return 0, -1, fmt.Errorf("table %s: key column %q is not a column", name, k)
		}
	}
	snap, err := openRaw(ctx, raw)
	if err != nil {
		return 0, -1, err
	}
	appID := DeletesAppID(cfg.SnapshotID, name)
	if _, ok := snap.AppVersion(appID); ok {
		return 0, -1, nil
	}
	dt := *t
	dt.Columns = cols
	batchID := "snapshot|" + cfg.SnapshotID + "|" + name + "|deletes"
	b, err := newRowBuilder(&dt, pos, cfg.TopicPrefix, batchID, deletesChunk, cfg.Now())
	if err != nil {
		return 0, -1, err
	}
	b.change.Op = schemas.OpDelete
	b.change.Source.Snapshot = ""
	fw := &fileWriter{store: raw, target: cfg.TargetFileBytes}
	before := make([]any, len(cols))
	for n, key := range keys {
		if len(key) != len(keyIdx) {
			return 0, -1, fmt.Errorf("table %s: delete key %d has %d values for a %d-column key", name, n, len(key), len(keyIdx))
		}
		clear(before)
		for i, ki := range keyIdx {
			if key[i] == nil {
				return 0, -1, fmt.Errorf("table %s: delete key %d: null value for key column %q", name, n, t.Key[i])
			}
			before[ki] = key[i]
		}
		row, err := b.buildDelete(before)
		if err != nil {
			return 0, -1, fmt.Errorf("table %s: delete key %d: %w", name, n, err)
		}
		if err := fw.write(ctx, row); err != nil {
			return 0, -1, fmt.Errorf("table %s: deletes: %w", name, err)
		}
		rows++
	}
	adds, _, err := fw.finish(ctx)
	if err != nil {
		return 0, -1, fmt.Errorf("table %s: deletes: %w", name, err)
	}
	tx := snap.Begin("WRITE")
	tx.Add(adds...)
	tx.SetAppVersion(appID, rows)
	tx.SetOperationParameters(map[string]any{"mode": "Append", "batchId": batchID})
	tx.SetOperationMetrics(map[string]any{"numFiles": len(adds), "numOutputRows": rows})
	v, err := tx.Commit(ctx)
	if errors.Is(err, lakelog.ErrConflict) {
		return 0, -1, nil
	}
	if err != nil {
		return 0, -1, fmt.Errorf("table %s: deletes: commit: %w", name, err)
	}
	return rows, v, nil
}

// buildDelete returns the raw row of an op "d" change whose before image
// is before (the After of build's rows stays nil).
func (b *rowBuilder) buildDelete(before []any) ([]any, error) {
	b.change.Before = before
	b.change.After = nil
	// The table's cached encoder (the op is not part of the schema); new
	// buffers, because the rows are kept until the file is written.
	key, err := b.enc.AppendKey(nil, &b.change)
	if err != nil {
		return nil, err
	}
	value, err := b.enc.AppendValue(nil, &b.change)
	if err != nil {
		return nil, err
	}
	off := b.offset
	b.offset++
	var schema any
	if b.change.Table.Schema != "" {
		schema = b.change.Table.Schema
	}
	var keyCol any
	if len(b.change.Key) > 0 {
		keyCol = key
	}
	return []any{
		b.topic, b.ingestTS, int32(snapshotPartition), off,
		nil, keyCol, value,
		schemas.OpDelete.String(), b.change.Source.Connector, b.change.Table.Database, schema, b.change.Table.Table,
		b.ordKey, b.sourceTS, nil, false,
		b.batchID, nil,
	}, nil
}
