package lakelog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// Description summarizes a table version for `sluice describe`. It is
// JSON-marshalable; WriteText renders it for people.
type Description struct {
	Version          int64          `json:"version"`
	ID               string         `json:"id"`
	Name             string         `json:"name,omitempty"`
	Protocol         Protocol       `json:"protocol"`
	Schema           []FieldSummary `json:"schema"`
	PartitionColumns []string       `json:"partitionColumns"`
	// ClusteringColumns are the delta.clustering domain's columns, each a
	// (physical) name path; empty when the table is not clustered.
	ClusteringColumns [][]string `json:"clusteringColumns"`
	NumFiles          int        `json:"numFiles"`
	TotalBytes        int64      `json:"totalBytes"`
	// TotalRows is the sum of the files' stats numRecords minus deletion
	// vector cardinalities; nil when some file has no numRecords.
	TotalRows     *int64            `json:"totalRows"`
	AppVersions   map[string]int64  `json:"appVersions"`
	Domains       []string          `json:"domains"`
	LastOperation string            `json:"lastOperation,omitempty"`
	LastCommitAt  *time.Time        `json:"lastCommitAt,omitempty"`
	Configuration map[string]string `json:"configuration"`
}

// FieldSummary is one top-level column.
type FieldSummary struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // e.g. "long", "decimal(10,2)", "struct<a:int>"
	Nullable bool   `json:"nullable"`
}

// Describe summarizes snapshot s of table t (s nil: the latest snapshot).
// The last commit's operation and time come from its commitInfo (the
// inCommitTimestamp when present, else its timestamp); they are left empty
// when that commit file is gone (a table read from a checkpoint only).
func Describe(ctx context.Context, t *Table, s *Snapshot) (*Description, error) {
	if s == nil {
		var err error
		if s, err = t.Snapshot(ctx); err != nil {
			return nil, err
		}
	}
	m := s.Metadata()
	d := &Description{
		Version:          s.Version(),
		ID:               m.ID,
		Name:             m.Name,
		Protocol:         s.Protocol(),
		PartitionColumns: slices.Clone(m.PartitionColumns),
		NumFiles:         len(s.Files()),
		AppVersions:      s.AppVersions(),
		Configuration:    maps.Clone(m.Configuration),
	}
	if d.PartitionColumns == nil {
		d.PartitionColumns = []string{}
	}
	if d.Configuration == nil {
		d.Configuration = map[string]string{}
	}
	for _, f := range s.Schema().Fields {
		d.Schema = append(d.Schema, FieldSummary{Name: f.Name, Type: typeString(f.Type), Nullable: f.Nullable})
	}
	for _, dm := range s.Domains() {
		d.Domains = append(d.Domains, dm.Domain)
	}
	if cfg, ok := s.Domain("delta.clustering"); ok {
		cols, err := parseClusteringColumns(cfg)
		if err != nil {
			return nil, fmt.Errorf("describe: delta.clustering domain: %w", err)
		}
		d.ClusteringColumns = cols
	}
	if d.ClusteringColumns == nil {
		d.ClusteringColumns = [][]string{}
	}
	rows, known := int64(0), true
	for _, a := range s.Files() {
		d.TotalBytes += a.Size
		if !known {
			continue
		}
		n, ok, err := statsNumRecords(a.Stats)
		if err != nil {
			return nil, fmt.Errorf("describe: stats of %s: %w", a.Path, err)
		}
		if !ok {
			known = false
			continue
		}
		rows += n
		if a.DeletionVector != nil {
			rows -= a.DeletionVector.Cardinality
		}
	}
	if known {
		d.TotalRows = &rows
	}
	c, err := t.readCommit(ctx, s.Version())
	switch {
	case errors.Is(err, blob.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("describe: %w", err)
	default:
		d.LastOperation, _ = c.CommitInfo["operation"].(string)
		ts, ok := c.CommitInfo["inCommitTimestamp"].(float64)
		if !ok {
			ts, ok = c.CommitInfo["timestamp"].(float64)
		}
		if ok {
			at := time.UnixMilli(int64(ts)).UTC()
			d.LastCommitAt = &at
		}
	}
	return d, nil
}

// parseClusteringColumns reads the delta.clustering domain configuration:
// Spark's {"clusteringColumns":[["a"],["b","c"]]}, or the flat
// ["a","b.c"] form of the spec's example.
func parseClusteringColumns(cfg string) ([][]string, error) {
	var raw struct {
		ClusteringColumns []json.RawMessage `json:"clusteringColumns"`
	}
	if err := json.Unmarshal([]byte(cfg), &raw); err != nil {
		return nil, err
	}
	cols := make([][]string, 0, len(raw.ClusteringColumns))
	for _, c := range raw.ClusteringColumns {
		var path []string
		if err := json.Unmarshal(c, &path); err != nil {
			var name string
			if err2 := json.Unmarshal(c, &name); err2 != nil {
				return nil, fmt.Errorf("clustering column %s: %w", c, err)
			}
			path = strings.Split(name, ".")
		}
		cols = append(cols, path)
	}
	return cols, nil
}

// typeString renders a type compactly: long, decimal(10,2),
// struct<a:int,b:array<string>>, map<string,long>.
func typeString(t DataType) string {
	switch t := t.(type) {
	case *StructType:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = f.Name + ":" + typeString(f.Type)
		}
		return "struct<" + strings.Join(parts, ",") + ">"
	case *ArrayType:
		return "array<" + typeString(t.ElementType) + ">"
	case *MapType:
		return "map<" + typeString(t.KeyType) + "," + typeString(t.ValueType) + ">"
	case nil:
		return "?"
	default:
		return t.TypeName()
	}
}

// WriteText writes d for people.
func (d *Description) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := d.Protocol
	fmt.Fprintf(tw, "version:\t%d\n", d.Version)
	fmt.Fprintf(tw, "id:\t%s\n", d.ID)
	if d.Name != "" {
		fmt.Fprintf(tw, "name:\t%s\n", d.Name)
	}
	fmt.Fprintf(tw, "protocol:\treader %d, writer %d\n", p.MinReaderVersion, p.MinWriterVersion)
	if len(p.ReaderFeatures) > 0 {
		fmt.Fprintf(tw, "reader features:\t%s\n", strings.Join(p.ReaderFeatures, ", "))
	}
	if len(p.WriterFeatures) > 0 {
		fmt.Fprintf(tw, "writer features:\t%s\n", strings.Join(p.WriterFeatures, ", "))
	}
	if len(d.PartitionColumns) > 0 {
		fmt.Fprintf(tw, "partitioned by:\t%s\n", strings.Join(d.PartitionColumns, ", "))
	}
	if len(d.ClusteringColumns) > 0 {
		names := make([]string, len(d.ClusteringColumns))
		for i, c := range d.ClusteringColumns {
			names[i] = strings.Join(c, ".")
		}
		fmt.Fprintf(tw, "clustered by:\t%s\n", strings.Join(names, ", "))
	}
	fmt.Fprintf(tw, "files:\t%d\n", d.NumFiles)
	fmt.Fprintf(tw, "bytes:\t%d\n", d.TotalBytes)
	if d.TotalRows != nil {
		fmt.Fprintf(tw, "rows:\t%d\n", *d.TotalRows)
	} else {
		fmt.Fprintf(tw, "rows:\tunknown (some files have no numRecords stats)\n")
	}
	if d.LastOperation != "" || d.LastCommitAt != nil {
		at := "?"
		if d.LastCommitAt != nil {
			at = d.LastCommitAt.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "last commit:\t%s at %s\n", cmp.Or(d.LastOperation, "?"), at)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "schema:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range d.Schema {
		null := ""
		if !f.Nullable {
			null = "not null"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Type, null)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.AppVersions) > 0 {
		fmt.Fprintf(w, "app versions:\n")
		for _, id := range slices.Sorted(maps.Keys(d.AppVersions)) {
			fmt.Fprintf(w, "  %s = %d\n", id, d.AppVersions[id])
		}
	}
	if len(d.Domains) > 0 {
		fmt.Fprintf(w, "domains: %s\n", strings.Join(d.Domains, ", "))
	}
	if len(d.Configuration) > 0 {
		fmt.Fprintf(w, "configuration:\n")
		for _, k := range slices.Sorted(maps.Keys(d.Configuration)) {
			fmt.Fprintf(w, "  %s = %s\n", k, d.Configuration[k])
		}
	}
	return nil
}
