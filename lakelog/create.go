package lakelog

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// This file creates tables (version 0) and holds the writer-side protocol
// checks every commit runs: lakelog writes only tables whose every writer
// feature it implements (DELTA-NOTES §1.2).

// Writer features lakelog implements.
const (
	writeFeatureAppendOnly     = "appendOnly"
	writeFeatureDomainMetadata = "domainMetadata"
	writeFeatureClustering     = "clustering"
	// timestampNtz is a reader+writer feature; writing it only means
	// declaring it whenever a timestamp_ntz column exists (datafile writes
	// such columns as INT64 TIMESTAMP(isAdjustedToUTC=false, MICROS)).
	featureTimestampNtz = "timestampNtz"
)

// FeatureDeletionVectors is writable because lakelog's commits carry a
// removed file's DV in its remove action and key files by path and DV id,
// which is what the feature asks of the log; readers of data files apply
// DVs with lakelog/dv.
var implementedWriterFeatures = []string{writeFeatureAppendOnly, writeFeatureDomainMetadata, writeFeatureClustering, featureTimestampNtz, FeatureDeletionVectors}

// checkWritable returns an *UnsupportedFeatureError (wrapped) when lakelog
// must not write a table with protocol p: a writer must implement every
// writer feature and every reader feature the protocol lists or implies.
// Writer version 2's invariants are refused per column by validateMetadata.
func checkWritable(p Protocol) error {
	if err := p.CheckWritable(implementedWriterFeatures); err != nil {
		return fmt.Errorf("protocol (%d,%d): %w", p.MinReaderVersion, p.MinWriterVersion, err)
	}
	if p.MinReaderVersion == 3 && p.MinWriterVersion != 7 {
		return fmt.Errorf("protocol (%d,%d): reader version 3 needs writer version 7", p.MinReaderVersion, p.MinWriterVersion)
	}
	if hasWriterFeature(p, writeFeatureClustering) && !hasWriterFeature(p, writeFeatureDomainMetadata) {
		return fmt.Errorf("protocol: writer feature %q needs %q", writeFeatureClustering, writeFeatureDomainMetadata)
	}
	return nil
}

// hasWriterFeature reports whether p supports writer feature f, counting the
// features legacy writer versions imply.
func hasWriterFeature(p Protocol, f string) bool {
	if p.MinWriterVersion == 7 {
		return slices.Contains(p.WriterFeatures, f)
	}
	return f == writeFeatureAppendOnly && p.MinWriterVersion >= 2
}

// isAppendOnly reports delta.appendOnly=true.
func isAppendOnly(m *Metadata) bool {
	return m != nil && strings.EqualFold(m.Configuration["delta.appendOnly"], "true")
}

// checkConfigurationSupported refuses table properties that need a feature
// the protocol lacks or that lakelog does not implement.
func checkConfigurationSupported(p Protocol, m *Metadata) error {
	if isAppendOnly(m) && !hasWriterFeature(p, writeFeatureAppendOnly) {
		return fmt.Errorf("metadata: delta.appendOnly=true needs writer feature %q", writeFeatureAppendOnly)
	}
	for _, key := range []string{"delta.enableChangeDataFeed", "delta.enableDeletionVectors", "delta.enableRowTracking", "delta.enableTypeWidening", "delta.enableInCommitTimestamps"} {
		if key == "delta.enableDeletionVectors" && p.MinReaderVersion == 3 && slices.Contains(p.ReaderFeatures, FeatureDeletionVectors) && hasWriterFeature(p, FeatureDeletionVectors) {
			continue // see deletionvector.go
		}
		if strings.EqualFold(m.Configuration[key], "true") {
			return fmt.Errorf("metadata: %s=true is not supported by lakelog's writer", key)
		}
	}
	if mode := m.Configuration["delta.columnMapping.mode"]; mode != "" && mode != "none" {
		return fmt.Errorf("metadata: delta.columnMapping.mode=%s: %w", mode, &UnsupportedFeatureError{Feature: "columnMapping"})
	}
	if schema, err := ParseSchema(m.SchemaString); err == nil {
		if col := findTimestampNtz(schema); col != "" && !(p.MinReaderVersion == 3 && slices.Contains(p.ReaderFeatures, featureTimestampNtz) && hasWriterFeature(p, featureTimestampNtz)) {
			return fmt.Errorf("metadata: column %q is timestamp_ntz, which needs reader and writer feature %q (protocol (3,7))", col, featureTimestampNtz)
		}
	}
	return nil
}

// findTimestampNtz returns the path of the first timestamp_ntz column in t,
// or "" when there is none.
func findTimestampNtz(t DataType) string {
	switch t := t.(type) {
	case *PrimitiveType:
		if t.Name == "timestamp_ntz" {
			return "."
		}
	case *StructType:
		for _, f := range t.Fields {
			if sub := findTimestampNtz(f.Type); sub != "" {
				if sub == "." {
					return f.Name
				}
				return f.Name + "." + sub
			}
		}
	case *ArrayType:
		return findTimestampNtz(t.ElementType)
	case *MapType:
		if sub := findTimestampNtz(t.KeyType); sub != "" {
			return sub
		}
		return findTimestampNtz(t.ValueType)
	}
	return ""
}

// validateMetadata checks a metaData action we are about to write.
func validateMetadata(m *Metadata) error {
	if m.ID == "" {
		return fmt.Errorf("metadata: empty id")
	}
	if m.Format.Provider != "" && m.Format.Provider != "parquet" {
		return fmt.Errorf("metadata: format %q, want parquet", m.Format.Provider)
	}
	schema, err := ParseSchema(m.SchemaString)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	seen := map[string]bool{}
	for _, f := range schema.Fields {
		lower := strings.ToLower(f.Name)
		if seen[lower] {
			return fmt.Errorf("metadata: column %q appears twice (names are case-insensitive)", f.Name)
		}
		seen[lower] = true
	}
	if err := checkNoInvariants(schema); err != nil {
		return err
	}
	for _, c := range m.PartitionColumns {
		if schema.Field(c) == nil {
			return fmt.Errorf("metadata: partition column %q is not in the schema", c)
		}
	}
	return nil
}

// checkNoInvariants refuses a schema with column invariants
// (delta.invariants field metadata, §Column Invariants): lakelog does not
// evaluate them, so it must not write such a table.
func checkNoInvariants(schema *StructType) error {
	for _, f := range schema.Fields {
		if _, ok := f.Metadata["delta.invariants"]; ok {
			return fmt.Errorf("metadata: column %q: %w", f.Name, &UnsupportedFeatureError{Feature: "invariants"})
		}
		if st, ok := f.Type.(*StructType); ok {
			if err := checkNoInvariants(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// Create writes version 0 of a new table: protocol, metaData and the given
// domainMetadata actions, with commitInfo operation "CREATE TABLE".
//
// meta.ID defaults to a new GUID, meta.Format to parquet, meta.CreatedTime
// to now; partitionColumns and configuration are written as [] and {} when
// empty. proto must list only writer features lakelog implements
// (appendOnly, domainMetadata, clustering; or legacy writer version 1 or 2);
// domain metadata needs the domainMetadata feature. The error wraps
// ErrTableExists when version 0 exists, and *UnsupportedFeatureError for a
// protocol lakelog cannot write. It returns the snapshot at version 0.
func (t *Table) Create(ctx context.Context, meta Metadata, proto Protocol, domains ...DomainMetadata) (*Snapshot, error) {
	if meta.ID == "" {
		meta.ID = uuid.NewString()
	}
	if meta.Format.Provider == "" {
		meta.Format.Provider = "parquet"
	}
	if meta.Format.Options == nil {
		meta.Format.Options = map[string]string{}
	}
	if meta.PartitionColumns == nil {
		meta.PartitionColumns = []string{}
	}
	if meta.Configuration == nil {
		meta.Configuration = map[string]string{}
	}
	if meta.CreatedTime == nil {
		now := t.opts.Now().UnixMilli()
		meta.CreatedTime = &now
	}
	if hasWriterFeature(proto, writeFeatureClustering) && len(meta.PartitionColumns) > 0 {
		return nil, fmt.Errorf("create: clustered tables cannot have partition columns")
	}
	tx := newTransaction(t, nil, -1, "CREATE TABLE")
	tx.SetProtocol(proto)
	tx.SetMetadata(meta)
	for _, d := range domains {
		tx.SetDomain(d)
	}
	tx.SetOperationParameters(map[string]any{
		"partitionBy": mustJSONString(meta.PartitionColumns),
		"properties":  mustJSONString(meta.Configuration),
		"isManaged":   "false",
	})
	v, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	snap, err := t.SnapshotAt(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return snap, nil
}

// mustJSONString is Spark's way of storing collections in
// operationParameters: as JSON text in a string.
func mustJSONString(v any) string {
	b, err := marshalNoEscape(v)
	if err != nil {
		return ""
	}
	return string(b)
}
