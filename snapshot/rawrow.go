package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// rawSchema is the raw table's schema, rebuilt from schemas.RawColumns (as
// ingest builds it; snapshot does not import ingest).
func rawSchema() *lakelog.StructType {
	cols := schemas.RawColumns()
	st := &lakelog.StructType{Fields: make([]*lakelog.StructField, len(cols))}
	for i, c := range cols {
		st.Fields[i] = &lakelog.StructField{Name: c.Name, Type: &lakelog.PrimitiveType{Name: c.DeltaType}, Nullable: c.Nullable, Metadata: map[string]any{}}
	}
	return st
}

// openRaw returns the raw table's latest snapshot, creating the table as
// ingest would when it has no log yet, and checks that it has the raw
// layout.
func openRaw(ctx context.Context, raw *lakelog.Table) (*lakelog.Snapshot, error) {
	want := rawSchema()
	snap, err := raw.Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		meta := lakelog.Metadata{
			ID:               uuid.NewString(),
			Format:           lakelog.Format{Provider: "parquet", Options: map[string]string{}},
			SchemaString:     want.String(),
			PartitionColumns: []string{},
			Configuration:    schemas.RawConfiguration(),
		}
		proto := lakelog.Protocol{
			MinReaderVersion: schemas.RawMinReaderVersion,
			MinWriterVersion: schemas.RawMinWriterVersion,
			WriterFeatures:   schemas.RawWriterFeatures(),
		}
		clustering := lakelog.DomainMetadata{Domain: schemas.ClusteringDomain, Configuration: schemas.RawClusteringConfiguration}
		snap, err = raw.Create(ctx, meta, proto, clustering)
		if errors.Is(err, lakelog.ErrTableExists) {
			snap, err = raw.Snapshot(ctx)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("raw table: %w", err)
	}
	have := snap.Schema()
	for _, f := range want.Fields {
		hf := have.Field(f.Name)
		if hf == nil || hf.Type.TypeName() != f.Type.TypeName() {
			return nil, fmt.Errorf("raw table: column %s %s missing or of another type: not a sluice raw table", f.Name, f.Type.TypeName())
		}
	}
	return snap, nil
}

// snapshotPartition is the raw table's partition value for snapshot rows:
// they come from no Kafka partition.
const snapshotPartition = -1

// rowBuilder turns source rows of one chunk into raw rows: an op "r"
// Debezium envelope (with schema) and its key, plus the extracted columns
// exactly as ingest extracts them from a Kafka record.
//
// It is the snapshot's per-row hot path, split in two halves that run on
// two goroutines of a chunk (see chunkPipeline): encode (the JSON key and
// value, on the reading goroutine) uses only change and enc; row (the raw
// row around them, on the writing goroutine) uses only the constant
// columns, offset and row. The Connect schemas are encoded once per chunk
// (enc), the constant columns are boxed once (consts), and the row is
// reused, which datafile.Writer.Write allows (it retains neither the row
// nor its []byte values).
type rowBuilder struct {
	change   schemas.Change
	topic    string
	ordKey   string
	ingestTS time.Time
	sourceTS time.Time
	batchID  string
	offset   int64

	enc    *schemas.TableEncoder
	consts []any // the raw row with every per-row column nil
	rawRow []any
	hasKey bool // a keyless table's raw rows have a null key
}

// Snapshot rows get partition -1 and offset chunk<<32 | row, unique per
// (table, snapshot) so error messages can point at one row.
func newRowBuilder(t *Table, pos schemas.Source, prefix, batchID string, chunk int, ingestTS time.Time) (*rowBuilder, error) {
	src := pos
	src.Name = prefix
	src.DB = t.ID.Database
	src.Schema = t.ID.Schema
	src.Table = t.ID.Table
	src.Snapshot = "true"
	ord, err := src.OrderingKey()
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.ID, err)
	}
	b := &rowBuilder{
		change: schemas.Change{
			Table:   t.ID,
			Op:      schemas.OpRead,
			Columns: t.Columns,
			Key:     t.Key,
			Source:  src,
			TsMs:    src.TsMs,
		},
		topic:    t.ID.Topic(prefix),
		ordKey:   ord,
		ingestTS: ingestTS.UTC().Truncate(time.Microsecond),
		sourceTS: time.UnixMilli(src.TsMs).UTC(),
		batchID:  batchID,
		offset:   int64(chunk) << 32,
	}
	if b.enc, err = schemas.NewTableEncoder(&b.change); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.ID, err)
	}
	var schema any
	if t.ID.Schema != "" {
		schema = t.ID.Schema
	}
	b.consts = []any{
		b.topic, b.ingestTS, int32(snapshotPartition), nil, // offset
		nil, nil, nil, // kafka_ts, key, value
		schemas.OpRead.String(), src.Connector, t.ID.Database, schema, t.ID.Table,
		b.ordKey, b.sourceTS, nil, true,
		b.batchID, nil,
	}
	b.rawRow = make([]any, len(b.consts))
	b.hasKey = len(t.Key) > 0
	return b, nil
}

// Positions of the per-row columns in schemas.RawColumns order.
const (
	rawOffsetIdx = 3
	rawKeyIdx    = 5
	rawValueIdx  = 6
)

// encode appends the key and then the value of one source row to dst and
// returns the extended slice and where the key ends in it; last marks the
// table's last row (source.snapshot "last"). values are not retained.
func (b *rowBuilder) encode(dst []byte, values []any, last bool) ([]byte, int, error) {
	b.change.After = values
	b.change.Source.Snapshot = "true"
	if last {
		b.change.Source.Snapshot = "last"
	}
	dst, err := b.enc.AppendKey(dst, &b.change)
	if err != nil {
		return nil, 0, err
	}
	keyEnd := len(dst)
	if dst, err = b.enc.AppendValue(dst, &b.change); err != nil {
		return nil, 0, err
	}
	return dst, keyEnd, nil
}

// row returns the raw row (schemas.RawColumns order) of an encoded key and
// value, with the chunk's next offset. The row is valid until the next row
// call; it references key and value.
func (b *rowBuilder) row(key, value []byte) []any {
	row := b.rawRow
	copy(row, b.consts)
	row[rawOffsetIdx] = b.offset
	b.offset++
	if b.hasKey {
		row[rawKeyIdx] = key
	}
	row[rawValueIdx] = value
	return row
}
