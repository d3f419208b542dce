package lakelog

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

func TestDescribe(t *testing.T) {
	ctx := context.Background()
	store := memblob.New()
	commits := []string{
		`{"commitInfo":{"timestamp":1700000000000,"operation":"CREATE TABLE"}}
{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["appendOnly","domainMetadata","clustering"]}}
{"metaData":{"id":"raw-1","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"topic\",\"type\":\"string\",\"nullable\":false,\"metadata\":{}},{\"name\":\"ingest_ts\",\"type\":\"timestamp\",\"nullable\":true,\"metadata\":{}},{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"keyType\":\"string\",\"valueType\":\"long\",\"valueContainsNull\":true},\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{"delta.appendOnly":"true"}}}
{"domainMetadata":{"domain":"delta.clustering","configuration":"{\"clusteringColumns\":[[\"topic\"],[\"ingest_ts\"]],\"domainName\":\"delta.clustering\"}","removed":false}}`,
		`{"commitInfo":{"timestamp":1700000001000,"operation":"WRITE"}}
{"add":{"path":"a.parquet","partitionValues":{},"size":100,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":10}"}}
{"add":{"path":"b.parquet","partitionValues":{},"size":50,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":5}","deletionVector":{"storageType":"i","pathOrInlineDv":"x","sizeInBytes":1,"cardinality":2}}}
{"txn":{"appId":"ingest-t-0","version":41}}`,
	}
	for v, c := range commits {
		if err := store.PutIfAbsent(ctx, commitKey(int64(v)), []byte(c+"\n")); err != nil {
			t.Fatal(err)
		}
	}
	table := Open(store, Options{})
	d, err := Describe(ctx, table, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := int64(13) // 10 + 5 - 2 deleted by the DV
	at := time.UnixMilli(1700000001000).UTC()
	want := &Description{
		Version:  1,
		ID:       "raw-1",
		Protocol: Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly", "domainMetadata", "clustering"}},
		Schema: []FieldSummary{
			{Name: "topic", Type: "string", Nullable: false},
			{Name: "ingest_ts", Type: "timestamp", Nullable: true},
			{Name: "tags", Type: "map<string,long>", Nullable: true},
		},
		PartitionColumns:  []string{},
		ClusteringColumns: [][]string{{"topic"}, {"ingest_ts"}},
		NumFiles:          2,
		TotalBytes:        150,
		TotalRows:         &rows,
		AppVersions:       map[string]int64{"ingest-t-0": 41},
		Domains:           []string{"delta.clustering"},
		LastOperation:     "WRITE",
		LastCommitAt:      &at,
		Configuration:     map[string]string{"delta.appendOnly": "true"},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Errorf("marshal: %v", err)
	}
	var b bytes.Buffer
	if err := d.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"version:", "clustered by:", "topic, ingest_ts", "rows:", "13", "WRITE at 2023-11-14T22:13:21Z", "ingest-t-0 = 41", "map<string,long>"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, b.String())
		}
	}

	// A file without numRecords makes the row count unknown.
	if err := store.PutIfAbsent(ctx, commitKey(2), []byte(`{"add":{"path":"c.parquet","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}}`+"\n")); err != nil {
		t.Fatal(err)
	}
	d, err = Describe(ctx, table, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.TotalRows != nil || d.LastOperation != "" || d.LastCommitAt != nil {
		t.Errorf("rows = %v, op = %q, at = %v; want unknown rows and no commitInfo", d.TotalRows, d.LastOperation, d.LastCommitAt)
	}
}

// A Spark/Databricks table whose only log file is a checkpoint at 108.
// Expected values were read with DuckDB from the checkpoint:
//
//	select domainMetadata... ; select count(*), sum(add.size),
//	sum(cast(json_extract(add.stats,'$.numRecords') as bigint)) ... where add is not null
//
// → 109 files, 136359 bytes, 436 rows, clustering [["department"]].
func TestDescribeFixture(t *testing.T) {
	ctx := context.Background()
	table := openFixture(t, "delta-rs/table-with-domain-metadata")
	d, err := Describe(ctx, table, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 108 || d.NumFiles != 109 || d.TotalBytes != 136359 || d.TotalRows == nil || *d.TotalRows != 436 {
		t.Errorf("version %d files %d bytes %d rows %v", d.Version, d.NumFiles, d.TotalBytes, d.TotalRows)
	}
	if !reflect.DeepEqual(d.ClusteringColumns, [][]string{{"department"}}) {
		t.Errorf("clustering = %q", d.ClusteringColumns)
	}
	wantProto := Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"deletionVectors"},
		WriterFeatures: []string{"deletionVectors", "domainMetadata", "rowTracking", "invariants", "appendOnly", "clustering"}}
	if !reflect.DeepEqual(d.Protocol, wantProto) {
		t.Errorf("protocol = %+v, want %+v", d.Protocol, wantProto)
	}
	if want := []string{"com.databricks.liquid", "delta.clustering", "delta.rowTracking"}; !reflect.DeepEqual(d.Domains, want) {
		t.Errorf("domains = %q, want %q", d.Domains, want)
	}
}
