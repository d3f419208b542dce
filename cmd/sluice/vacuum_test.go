package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
)

func TestVacuumDryRunThenExecute(t *testing.T) {
	dir := t.TempDir()
	store, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	schema := &lakelog.StructType{Fields: []*lakelog.StructField{{Name: "id", Type: lakelog.TypeLong}}}
	if _, err := lakelog.Open(store, lakelog.Options{}).Create(context.Background(), lakelog.Metadata{SchemaString: schema.String()}, lakelog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, "part-orphan.parquet")
	fresh := filepath.Join(dir, "part-fresh.parquet")
	for _, p := range []string{orphan, fresh} {
		if err := os.WriteFile(p, []byte("not referenced"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-10 * 24 * time.Hour)
	if err := os.Chtimes(orphan, old, old); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := run(t, "vacuum", dir)
	if code != 0 || !strings.Contains(out, "would delete part-orphan.parquet") || strings.Contains(out, "part-fresh") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("dry run deleted the orphan: %v", err)
	}
	code, out, stderr = run(t, "vacuum", dir, "--execute")
	if code != 0 || !strings.Contains(out, "deleted part-orphan.parquet") {
		t.Fatalf("execute: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan still there after --execute: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a file younger than the retention was deleted: %v", err)
	}
	if code, _, _ := run(t, "vacuum", dir, "--retention", "1m"); code != 1 && code != 2 {
		t.Errorf("retention below the minimum: exit %d, want a refusal", code)
	}
}
