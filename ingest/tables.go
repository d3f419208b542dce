package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// rawProtocol, rawConfiguration and rawClustering are the raw table's
// protocol, table properties and clustering domain (DESIGN.md "Raw table").
var (
	rawProtocol = lakelog.Protocol{
		MinReaderVersion: schemas.RawMinReaderVersion,
		MinWriterVersion: schemas.RawMinWriterVersion,
		WriterFeatures:   schemas.RawWriterFeatures(),
	}
	rawClustering = lakelog.DomainMetadata{
		Domain:        schemas.ClusteringDomain,
		Configuration: schemas.RawClusteringConfiguration,
	}
	deadLetterProtocol = lakelog.Protocol{
		MinReaderVersion: 1,
		MinWriterVersion: 7,
		WriterFeatures:   []string{"appendOnly"},
	}
)

func appendOnlyConfig() map[string]string { return schemas.RawConfiguration() }

// openOrCreate returns the latest snapshot of table, creating the table at
// version 0 when it has no log. A concurrent creator winning the race is
// fine: the table it made is opened instead. An existing table must have
// every column of want with the same type.
func openOrCreate(ctx context.Context, table *lakelog.Table, name string, want *lakelog.StructType, proto lakelog.Protocol, domains ...lakelog.DomainMetadata) (*lakelog.Snapshot, error) {
	snap, err := table.Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		meta := lakelog.Metadata{
			ID:               uuid.NewString(),
			Format:           lakelog.Format{Provider: "parquet", Options: map[string]string{}},
			SchemaString:     want.String(),
			PartitionColumns: []string{},
			Configuration:    appendOnlyConfig(),
		}
		snap, err = table.Create(ctx, meta, proto, domains...)
		if errors.Is(err, lakelog.ErrTableExists) {
			snap, err = table.Snapshot(ctx)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s table: %w", name, err)
	}
	have := snap.Schema()
	for _, f := range want.Fields {
		hf := have.Field(f.Name)
		if hf == nil || hf.Type.TypeName() != f.Type.TypeName() {
			return nil, fmt.Errorf("%s table: column %s %s missing or of another type: not a sluice %s table", name, f.Name, f.Type.TypeName(), name)
		}
	}
	return snap, nil
}
