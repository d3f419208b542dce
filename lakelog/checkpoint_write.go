package lakelog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// This file writes classic (V1, single-file) Parquet checkpoints
// _delta_log/<v>.checkpoint.parquet and the _last_checkpoint hint
// (PROTOCOL.md §Checkpoints, appendix §Checkpoint Schema).
//
// A checkpoint holds one row per action of the reconciled state at v, each
// action in its own struct column: protocol, metaData, txn, live add files,
// unexpired remove tombstones (without stats and tags) and non-removed
// domainMetadata; never commitInfo. Every column is optional, as Spark
// writes them; column names and types follow Spark's checkpoints.

// checkpointKey is the classic checkpoint file of version v.
func checkpointKey(v int64) string { return fmt.Sprintf("%s%020d.checkpoint.parquet", logDir, v) }

type ckptRow struct {
	Txn            *ckptTxn      `parquet:"txn,optional"`
	Add            *ckptAdd      `parquet:"add,optional"`
	Remove         *ckptRemove   `parquet:"remove,optional"`
	MetaData       *ckptMetadata `parquet:"metaData,optional"`
	Protocol       *ckptProtocol `parquet:"protocol,optional"`
	DomainMetadata *ckptDomain   `parquet:"domainMetadata,optional"`
}

type ckptTxn struct {
	AppID       *string `parquet:"appId,optional"`
	Version     *int64  `parquet:"version,optional"`
	LastUpdated *int64  `parquet:"lastUpdated,optional"`
}

type ckptDV struct {
	StorageType    *string `parquet:"storageType,optional"`
	PathOrInlineDv *string `parquet:"pathOrInlineDv,optional"`
	Offset         *int32  `parquet:"offset,optional"`
	SizeInBytes    *int32  `parquet:"sizeInBytes,optional"`
	Cardinality    *int64  `parquet:"cardinality,optional"`
}

type ckptAdd struct {
	Path                    *string            `parquet:"path,optional"`
	PartitionValues         map[string]*string `parquet:"partitionValues,optional" parquet-value:",optional"`
	Size                    *int64             `parquet:"size,optional"`
	ModificationTime        *int64             `parquet:"modificationTime,optional"`
	DataChange              *bool              `parquet:"dataChange,optional"`
	Stats                   *string            `parquet:"stats,optional"`
	Tags                    map[string]*string `parquet:"tags,optional" parquet-value:",optional"`
	DeletionVector          *ckptDV            `parquet:"deletionVector,optional"`
	BaseRowID               *int64             `parquet:"baseRowId,optional"`
	DefaultRowCommitVersion *int64             `parquet:"defaultRowCommitVersion,optional"`
	ClusteringProvider      *string            `parquet:"clusteringProvider,optional"`
}

type ckptRemove struct {
	Path                    *string            `parquet:"path,optional"`
	DeletionTimestamp       *int64             `parquet:"deletionTimestamp,optional"`
	DataChange              *bool              `parquet:"dataChange,optional"`
	ExtendedFileMetadata    *bool              `parquet:"extendedFileMetadata,optional"`
	PartitionValues         map[string]*string `parquet:"partitionValues,optional" parquet-value:",optional"`
	Size                    *int64             `parquet:"size,optional"`
	DeletionVector          *ckptDV            `parquet:"deletionVector,optional"`
	BaseRowID               *int64             `parquet:"baseRowId,optional"`
	DefaultRowCommitVersion *int64             `parquet:"defaultRowCommitVersion,optional"`
}

type ckptFormat struct {
	Provider *string            `parquet:"provider,optional"`
	Options  map[string]*string `parquet:"options,optional" parquet-value:",optional"`
}

type ckptMetadata struct {
	ID               *string            `parquet:"id,optional"`
	Name             *string            `parquet:"name,optional"`
	Description      *string            `parquet:"description,optional"`
	Format           *ckptFormat        `parquet:"format,optional"`
	SchemaString     *string            `parquet:"schemaString,optional"`
	PartitionColumns []string           `parquet:"partitionColumns,optional,list" parquet-element:",optional"`
	Configuration    map[string]*string `parquet:"configuration,optional" parquet-value:",optional"`
	CreatedTime      *int64             `parquet:"createdTime,optional"`
}

type ckptProtocol struct {
	MinReaderVersion *int32   `parquet:"minReaderVersion,optional"`
	MinWriterVersion *int32   `parquet:"minWriterVersion,optional"`
	ReaderFeatures   []string `parquet:"readerFeatures,optional,list" parquet-element:",optional"`
	WriterFeatures   []string `parquet:"writerFeatures,optional,list" parquet-element:",optional"`
}

type ckptDomain struct {
	Domain        *string `parquet:"domain,optional"`
	Configuration *string `parquet:"configuration,optional"`
	Removed       *bool   `parquet:"removed,optional"`
}

func ckptPtr[T any](v T) *T { return &v }

// optString is nil for "" (the field was absent).
func ckptOptString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// strPtrMap converts a map[string]string to the checkpoint's nullable-valued
// map; nil stays nil (an absent map).
func ckptStrMap(m map[string]string) map[string]*string {
	if m == nil {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = ckptPtr(v)
	}
	return out
}

func ckptDeletionVector(dv *DeletionVector) *ckptDV {
	if dv == nil {
		return nil
	}
	return &ckptDV{
		StorageType:    ckptPtr(dv.StorageType),
		PathOrInlineDv: ckptPtr(dv.PathOrInlineDv),
		Offset:         dv.Offset,
		SizeInBytes:    ckptPtr(dv.SizeInBytes),
		Cardinality:    ckptPtr(dv.Cardinality),
	}
}

func ckptPartitionValues(pv map[string]*string) map[string]*string {
	if pv == nil {
		return map[string]*string{}
	}
	return pv
}

// checkpointRows builds the checkpoint rows of snapshot s. Tombstones whose
// deletionTimestamp is older than now minus the table's
// delta.deletedFileRetentionDuration are expired and left out.
func checkpointRows(s *Snapshot, now time.Time) (rows []ckptRow, numAdds int64) {
	p := s.Protocol()
	proto := &ckptProtocol{
		MinReaderVersion: ckptPtr(int32(p.MinReaderVersion)),
		MinWriterVersion: ckptPtr(int32(p.MinWriterVersion)),
	}
	// readerFeatures is non-null iff reader version 3, writerFeatures iff
	// writer version 7 (§Checkpoint Schema).
	if p.MinReaderVersion == 3 {
		proto.ReaderFeatures = append([]string{}, p.ReaderFeatures...)
	}
	if p.MinWriterVersion == 7 {
		proto.WriterFeatures = append([]string{}, p.WriterFeatures...)
	}
	rows = append(rows, ckptRow{Protocol: proto})

	m := s.Metadata()
	provider := m.Format.Provider
	if provider == "" {
		provider = "parquet"
	}
	opts := ckptStrMap(m.Format.Options)
	if opts == nil {
		opts = map[string]*string{}
	}
	conf := ckptStrMap(m.Configuration)
	if conf == nil {
		conf = map[string]*string{}
	}
	rows = append(rows, ckptRow{MetaData: &ckptMetadata{
		ID:               ckptPtr(m.ID),
		Name:             ckptOptString(m.Name),
		Description:      ckptOptString(m.Description),
		Format:           &ckptFormat{Provider: ckptPtr(provider), Options: opts},
		SchemaString:     ckptPtr(m.SchemaString),
		PartitionColumns: append([]string{}, m.PartitionColumns...),
		Configuration:    conf,
		CreatedTime:      m.CreatedTime,
	}})

	for _, txn := range s.Txns() {
		rows = append(rows, ckptRow{Txn: &ckptTxn{AppID: ckptPtr(txn.AppID), Version: ckptPtr(txn.Version), LastUpdated: txn.LastUpdated}})
	}
	for _, d := range s.Domains() {
		if d.Removed {
			continue
		}
		rows = append(rows, ckptRow{DomainMetadata: &ckptDomain{Domain: ckptPtr(d.Domain), Configuration: ckptPtr(d.Configuration), Removed: ckptPtr(false)}})
	}
	for _, a := range s.Files() {
		numAdds++
		rows = append(rows, ckptRow{Add: &ckptAdd{
			Path:                    ckptPtr(a.Path),
			PartitionValues:         ckptPartitionValues(a.PartitionValues),
			Size:                    ckptPtr(a.Size),
			ModificationTime:        ckptPtr(a.ModificationTime),
			DataChange:              ckptPtr(a.DataChange),
			Stats:                   ckptOptString(a.Stats),
			Tags:                    ckptStrMap(a.Tags),
			DeletionVector:          ckptDeletionVector(a.DeletionVector),
			BaseRowID:               a.BaseRowID,
			DefaultRowCommitVersion: a.DefaultRowCommitVersion,
			ClusteringProvider:      ckptOptString(a.ClusteringProvider),
		}})
	}
	cutoff := now.Add(-deletedFileRetention(&m)).UnixMilli()
	for _, r := range s.Tombstones() {
		if r.DeletionTimestamp == nil || *r.DeletionTimestamp <= cutoff {
			continue // expired: VACUUM may already have deleted the file
		}
		rows = append(rows, ckptRow{Remove: &ckptRemove{
			Path:                    ckptPtr(r.Path),
			DeletionTimestamp:       r.DeletionTimestamp,
			DataChange:              ckptPtr(r.DataChange),
			ExtendedFileMetadata:    r.ExtendedFileMetadata,
			PartitionValues:         r.PartitionValues,
			Size:                    r.Size,
			DeletionVector:          ckptDeletionVector(r.DeletionVector),
			BaseRowID:               r.BaseRowID,
			DefaultRowCommitVersion: r.DefaultRowCommitVersion,
		}})
	}
	return rows, numAdds
}

// encodeCheckpoint writes rows as a Parquet file.
func encodeCheckpoint(rows []ckptRow) ([]byte, error) {
	var buf bytes.Buffer
	schema := parquet.NewSchema("spark_schema", parquet.SchemaOf(ckptRow{}))
	w := parquet.NewGenericWriter[ckptRow](&buf, schema, parquet.Compression(&parquet.Snappy), parquet.CreatedBy("sluice", engineInfo(), ""))
	if _, err := w.Write(rows); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Checkpoint writes a classic Parquet checkpoint of snapshot s
// (_delta_log/<v>.checkpoint.parquet) and then points _last_checkpoint at
// it, unless _last_checkpoint already names a newer version.
//
// Idempotent: a checkpoint for one version always holds the same actions,
// so writing it twice (Put replaces) is harmless. Safe for concurrent use.
// The commit s was read at exists by construction, so the checkpoint never
// precedes its <v>.json.
func (t *Table) Checkpoint(ctx context.Context, s *Snapshot) error {
	v := s.Version()
	rows, numAdds := checkpointRows(s, t.opts.Now())
	data, err := encodeCheckpoint(rows)
	if err != nil {
		return fmt.Errorf("checkpoint %d: encode: %w", v, err)
	}
	if err := t.store.Put(ctx, checkpointKey(v), data); err != nil {
		return fmt.Errorf("checkpoint %d: %w", v, err)
	}
	prev, err := t.readLastCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint %d: %w", v, err)
	}
	if prev != nil && prev.Version > v {
		return nil
	}
	size := int64(len(data))
	lc := LastCheckpoint{Version: v, Size: int64(len(rows)), SizeInBytes: &size, NumOfAddFiles: &numAdds}
	hint, err := json.Marshal(lc)
	if err != nil {
		return fmt.Errorf("checkpoint %d: %w", v, err)
	}
	if err := t.store.Put(ctx, lastCheckpointKey, hint); err != nil {
		return fmt.Errorf("checkpoint %d: _last_checkpoint: %w", v, err)
	}
	t.opts.Logger.Debug("lakelog: wrote checkpoint", "version", v, "actions", len(rows), "bytes", size)
	return nil
}

// deletedFileRetention is delta.deletedFileRetentionDuration (default one
// week, Spark's DeltaConfig), in Spark's "interval <n> <unit>" form.
func deletedFileRetention(m *Metadata) time.Duration {
	const def = 7 * 24 * time.Hour
	s, ok := m.Configuration["delta.deletedFileRetentionDuration"]
	if !ok {
		return def
	}
	d, err := parseInterval(s)
	if err != nil {
		return def
	}
	return d
}

var intervalRe = regexp.MustCompile(`^(?i)\s*(?:interval\s+)?(\d+)\s*([a-z]+)\s*$`)

// parseInterval parses Spark calendar intervals as Delta table properties
// use them: "interval 7 days", "interval 1 week", "168 hours".
func parseInterval(s string) (time.Duration, error) {
	m := intervalRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("interval %q: want \"interval <n> <unit>\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("interval %q: %w", s, err)
	}
	unit := strings.TrimSuffix(strings.ToLower(m[2]), "s")
	units := map[string]time.Duration{
		"nanosecond": time.Nanosecond, "microsecond": time.Microsecond, "millisecond": time.Millisecond,
		"second": time.Second, "minute": time.Minute, "hour": time.Hour,
		"day": 24 * time.Hour, "week": 7 * 24 * time.Hour,
	}
	u, ok := units[unit]
	if !ok {
		return 0, errors.New("interval " + strconv.Quote(s) + ": unknown unit " + strconv.Quote(m[2]))
	}
	return time.Duration(n) * u, nil
}
