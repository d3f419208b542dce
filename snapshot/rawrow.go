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
type rowBuilder struct {
	change   schemas.Change
	topic    string
	ordKey   string
	ingestTS time.Time
	sourceTS time.Time
	batchID  string
	offset   int64
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
	return &rowBuilder{
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
	}, nil
}

// build returns the raw row (schemas.RawColumns order) of one source row;
// last marks the table's last row (source.snapshot "last").
func (b *rowBuilder) build(values []any, last bool) ([]any, error) {
	b.change.After = values
	b.change.Source.Snapshot = "true"
	if last {
		b.change.Source.Snapshot = "last"
	}
	key, err := schemas.EncodeKey(&b.change, true)
	if err != nil {
		return nil, err
	}
	value, err := schemas.EncodeValue(&b.change, true)
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
	if key != nil {
		keyCol = key
	}
	return []any{
		b.topic, b.ingestTS, int32(snapshotPartition), off,
		nil, keyCol, value,
		schemas.OpRead.String(), b.change.Source.Connector, b.change.Table.Database, schema, b.change.Table.Table,
		b.ordKey, b.sourceTS, nil, true,
		b.batchID, nil,
	}, nil
}
