package postgres

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/schemas/pgtext"
)

// relation is the decoded schema of one relation id, as of its latest
// Relation message. Columns is shared by every change decoded with it and
// never mutated: a schema change arrives as a new Relation message and
// builds a new relation.
type relation struct {
	table    schemas.TableID
	captured bool
	columns  []schemas.Column
	decoders []pgtext.Decoder
	key      []string
}

// txn is the transaction being decoded.
type txn struct {
	xid       uint32
	commitLSN uint64
	commitTs  time.Time
	changes   []schemas.Change
	// delivered: the transaction was sent before (its commit precedes
	// the stream's start), so it is decoded for its relations only and
	// never sent in parts.
	delivered bool
	// parts counts the Partial batches already sent.
	parts int
}

// pgoutputDecoder turns pgoutput messages into transactions. Not safe for
// concurrent use.
type pgoutputDecoder struct {
	db        string
	cfg       Config
	filter    *capture.TableFilter
	cat       *catalog
	relations map[uint32]*relation
	tx        *txn
	// from is the stream's start: transactions whose commit record
	// precedes it were delivered by an earlier stream.
	from uint64
	// lastParts is the number of Partial batches of the transaction the
	// last Commit ended.
	lastParts int
}

func newPgoutputDecoder(db string, cfg Config, filter *capture.TableFilter, cat *catalog) *pgoutputDecoder {
	return &pgoutputDecoder{db: db, cfg: cfg, filter: filter, cat: cat, relations: map[uint32]*relation{}}
}

func (d *pgoutputDecoder) inTx() bool { return d.tx != nil }

// decode handles one pgoutput message starting at WAL position lsn. It
// returns a batch when the message is a Commit, and a Partial batch when the
// open transaction reached cfg.MaxTxnChanges (so memory holds at most that
// many changes of one transaction; pgoutput only sends committed
// transactions, so a part is never rolled back).
func (d *pgoutputDecoder) decode(ctx context.Context, lsn uint64, data []byte) (*capture.Batch, error) {
	b, err := d.decodeMessage(ctx, lsn, data)
	if err != nil || b != nil || d.tx == nil || d.tx.delivered || len(d.tx.changes) < d.cfg.MaxTxnChanges {
		return b, err
	}
	part := &capture.Batch{Changes: d.tx.changes, CommitTsMs: d.tx.commitTs.UnixMilli(), Partial: true}
	d.tx.changes = nil
	d.tx.parts++
	return part, nil
}

// continued reports whether the batch decode just returned at a Commit
// ends a transaction that was sent in parts (it must be delivered even if
// it holds no change itself, to commit the parts).
func (d *pgoutputDecoder) continued() bool { return d.lastParts > 0 }

func (d *pgoutputDecoder) decodeMessage(ctx context.Context, lsn uint64, data []byte) (*capture.Batch, error) {
	msg, err := pglogrepl.ParseV2(data, false)
	if err != nil {
		return nil, fmt.Errorf("parse pgoutput message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessageV2:
		return nil, d.relation(ctx, &m.RelationMessage)
	case *pglogrepl.BeginMessage:
		if d.tx != nil {
			return nil, fmt.Errorf("begin of xid %d inside xid %d", m.Xid, d.tx.xid)
		}
		// A commit record before the start: the transaction ended at or
		// before an earlier stream's last delivered end.
		d.tx = &txn{xid: m.Xid, commitLSN: uint64(m.FinalLSN), commitTs: m.CommitTime, delivered: uint64(m.FinalLSN) < d.from}
		return nil, nil
	case *pglogrepl.CommitMessage:
		if d.tx == nil {
			return nil, fmt.Errorf("commit at %s outside a transaction", m.CommitLSN)
		}
		tx := d.tx
		d.tx = nil
		d.lastParts = tx.parts
		return &capture.Batch{
			Changes:    tx.changes,
			Position:   formatLSN(uint64(m.TransactionEndLSN)),
			CommitTsMs: tx.commitTs.UnixMilli(),
		}, nil
	case *pglogrepl.InsertMessageV2:
		rel, err := d.rel(m.RelationID)
		if err != nil || !rel.captured {
			return nil, err
		}
		after, err := d.row(rel, m.Tuple, nil)
		if err != nil {
			return nil, fmt.Errorf("insert into %s: %w", rel.table, err)
		}
		return nil, d.add(rel, schemas.OpCreate, lsn, nil, after)
	case *pglogrepl.UpdateMessageV2:
		rel, err := d.rel(m.RelationID)
		if err != nil || !rel.captured {
			return nil, err
		}
		var before []any
		if m.OldTuple != nil {
			if before, err = d.row(rel, m.OldTuple, nil); err != nil {
				return nil, fmt.Errorf("update of %s: old row: %w", rel.table, err)
			}
		}
		after, err := d.row(rel, m.NewTuple, before)
		if err != nil {
			return nil, fmt.Errorf("update of %s: %w", rel.table, err)
		}
		if before != nil && keyChanged(rel, before, after) {
			// As Debezium does: a primary-key change is a delete of the old
			// key and a create of the new one, so that per-key consumers
			// (the SCD1 merge, compacted topics) drop the old row.
			if err := d.add(rel, schemas.OpDelete, lsn, before, nil); err != nil {
				return nil, err
			}
			return nil, d.add(rel, schemas.OpCreate, lsn, nil, after)
		}
		return nil, d.add(rel, schemas.OpUpdate, lsn, before, after)
	case *pglogrepl.DeleteMessageV2:
		rel, err := d.rel(m.RelationID)
		if err != nil || !rel.captured {
			return nil, err
		}
		if m.OldTuple == nil {
			return nil, fmt.Errorf("delete from %s: no old row (REPLICA IDENTITY NOTHING?)", rel.table)
		}
		before, err := d.row(rel, m.OldTuple, nil)
		if err != nil {
			return nil, fmt.Errorf("delete from %s: %w", rel.table, err)
		}
		return nil, d.add(rel, schemas.OpDelete, lsn, before, nil)
	case *pglogrepl.TruncateMessageV2:
		if d.cfg.SkipTruncate {
			return nil, nil
		}
		for _, id := range m.RelationIDs {
			rel, err := d.rel(id)
			if err != nil {
				return nil, err
			}
			if !rel.captured {
				continue
			}
			if err := d.add(rel, schemas.OpTruncate, lsn, nil, nil); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case *pglogrepl.TypeMessageV2, *pglogrepl.OriginMessage, *pglogrepl.LogicalDecodingMessageV2:
		return nil, nil
	default:
		return nil, fmt.Errorf("unexpected pgoutput message %s", msg.Type())
	}
}

func (d *pgoutputDecoder) rel(id uint32) (*relation, error) {
	rel, ok := d.relations[id]
	if !ok {
		return nil, fmt.Errorf("change for relation %d before its Relation message", id)
	}
	return rel, nil
}

func (d *pgoutputDecoder) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	rel := &relation{
		table:    schemas.TableID{Database: d.db, Schema: m.Namespace, Table: m.RelationName},
		captured: d.filter.Match(m.Namespace + "." + m.RelationName),
	}
	d.relations[m.RelationID] = rel
	if !rel.captured {
		return nil
	}
	lookup := d.cat.lookupType(ctx)
	var identity []string
	for _, c := range m.Columns {
		col, dec, err := pgtext.MapColumn(c.Name, c.DataType, c.TypeModifier, lookup)
		if err != nil {
			return fmt.Errorf("relation %s: %w", rel.table, err)
		}
		rel.columns = append(rel.columns, col)
		rel.decoders = append(rel.decoders, dec)
		if c.Flags&1 != 0 {
			identity = append(identity, c.Name)
		}
	}
	pk, err := d.cat.primaryKey(ctx, m.RelationID)
	if err != nil {
		return fmt.Errorf("relation %s: %w", rel.table, err)
	}
	switch {
	case len(pk) > 0:
		rel.key = pk
	case m.ReplicaIdentity == 'i':
		// REPLICA IDENTITY USING INDEX on a table without a primary key:
		// the index columns identify the row, as Debezium's
		// message.key.columns would be configured to.
		rel.key = identity
	}
	// Key columns are never null in a key; mark them required as Debezium's
	// schema does.
	for i := range rel.columns {
		for _, k := range rel.key {
			if rel.columns[i].Name == k {
				rel.columns[i].Optional = false
			}
		}
	}
	return nil
}

// row decodes a tuple. fallback, when given, supplies values for unchanged
// TOAST columns ('u') that the old row (REPLICA IDENTITY FULL) did carry.
func (d *pgoutputDecoder) row(rel *relation, t *pglogrepl.TupleData, fallback []any) ([]any, error) {
	if t == nil {
		return nil, nil
	}
	if len(t.Columns) != len(rel.columns) {
		return nil, fmt.Errorf("tuple has %d columns, relation has %d", len(t.Columns), len(rel.columns))
	}
	out := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			out[i] = nil
		case pglogrepl.TupleDataTypeToast:
			out[i] = schemas.Unavailable{}
			if fallback != nil {
				if _, missing := fallback[i].(schemas.Unavailable); !missing && fallback[i] != nil {
					out[i] = fallback[i]
				}
			}
		case pglogrepl.TupleDataTypeText:
			v, err := rel.decoders[i](string(c.Data))
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", rel.columns[i].Name, err)
			}
			out[i] = v
		default:
			return nil, fmt.Errorf("column %q: unsupported tuple data type %q", rel.columns[i].Name, c.DataType)
		}
	}
	return out, nil
}

func (d *pgoutputDecoder) add(rel *relation, op schemas.Op, lsn uint64, before, after []any) error {
	if d.tx == nil {
		return fmt.Errorf("%s change of %s outside a transaction", op, rel.table)
	}
	tsMs := d.tx.commitTs.UnixMilli()
	c := schemas.Change{
		Table:   rel.table,
		Op:      op,
		Columns: rel.columns,
		Key:     rel.key,
		Before:  before,
		After:   after,
		Source: schemas.Source{
			Connector: schemas.ConnectorPostgres,
			Name:      d.cfg.TopicPrefix,
			TsMs:      tsMs,
			DB:        rel.table.Database,
			Schema:    rel.table.Schema,
			Table:     rel.table.Table,
			LSN:       lsn,
			CommitLSN: d.tx.commitLSN,
			TxID:      int64(d.tx.xid),
		},
		// The commit time, not the processing time, so that a replayed
		// event is byte-identical to the original.
		TsMs: tsMs,
	}
	if op == schemas.OpTruncate {
		c.Columns, c.Key = nil, nil
	}
	if !d.tx.delivered { // sent by an earlier stream: decoded, not kept
		d.tx.changes = append(d.tx.changes, c)
	}
	return nil
}

// keyChanged reports whether the key columns differ between the rows.
func keyChanged(rel *relation, before, after []any) bool {
	for _, k := range rel.key {
		for i, c := range rel.columns {
			if c.Name == k && !reflect.DeepEqual(before[i], after[i]) {
				return true
			}
		}
	}
	return false
}
