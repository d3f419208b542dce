package lakelog

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

func TestCreateTimestampNtzNeedsTheFeature(t *testing.T) {
	ctx := context.Background()
	schema := &StructType{Fields: []*StructField{
		{Name: "id", Type: TypeLong},
		{Name: "at", Type: TypeTimestampNTZ, Nullable: true},
	}}
	meta := Metadata{SchemaString: schema.String()}

	_, err := Open(memblob.New(), Options{}).Create(ctx, meta, Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"domainMetadata"}})
	if err == nil || !strings.Contains(err.Error(), `"at"`) || !strings.Contains(err.Error(), "timestampNtz") {
		t.Fatalf("create without the feature: err = %v, want a refusal naming column and feature", err)
	}

	proto := Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"timestampNtz"}, WriterFeatures: []string{"domainMetadata", "timestampNtz"}}
	table := Open(memblob.New(), Options{})
	snap, err := table.Create(ctx, meta, proto)
	if err != nil {
		t.Fatalf("create with the feature: %v", err)
	}
	if _, err := snap.Begin("WRITE").Commit(ctx); err != nil {
		t.Fatalf("commit to a timestampNtz table: %v", err)
	}
	got, err := table.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version() != 1 || got.Protocol().MinReaderVersion != 3 {
		t.Errorf("version %d protocol %+v", got.Version(), got.Protocol())
	}
}
