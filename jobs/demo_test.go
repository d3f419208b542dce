package jobs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo's SCD1 tables must equal the generator's own account of the final
// rows, which it keeps without any help from ingest or merge.
func TestDemoEndsWithTheGeneratorsRows(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	res, err := Demo(context.Background(), DemoOptions{Dir: dir, Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, table := range []string{"shop.public.customers", "shop.public.orders", "shop.public.order_items"} {
		want, got := res.Expected[table], res.Actual[table]
		if len(want) == 0 {
			t.Errorf("%s: the generator made no rows", table)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d rows in the lake, want %d", table, len(got), len(want))
			continue
		}
		for i := range want {
			for col, v := range want[i] {
				if got[i][col] != v {
					t.Errorf("%s row %d column %s = %q, want %q", table, i, col, got[i][col], v)
				}
			}
		}
	}
	if !strings.Contains(out.String(), "check: the SCD1 tables equal") {
		t.Errorf("demo output lacks the check line:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "sluice.yaml")); err != nil {
		t.Errorf("demo config not written: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lake", "tables", "shop", "customers", "_delta_log")); err != nil {
		t.Errorf("customers SCD1 table missing: %v", err)
	}
}
