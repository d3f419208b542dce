package schemas

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// benchEvent builds a realistic PostgreSQL update of about 1 KB (bare form):
// 16 columns of mixed types, before and after images.
func benchEvent(b *testing.B, withSchema bool) []byte {
	cols := []Column{{Name: "id", Type: Int64}}
	row := []any{int64(1234567)}
	for i := 0; i < 5; i++ {
		cols = append(cols,
			Column{Name: fmt.Sprintf("name_%d", i), Type: String, Optional: true},
			Column{Name: fmt.Sprintf("qty_%d", i), Type: Int32, Optional: true},
			Column{Name: fmt.Sprintf("updated_%d", i), Type: Int64, Semantic: SemMicroTimestamp, Optional: true})
		row = append(row, strings.Repeat("x", 30)+fmt.Sprint(i), int32(i*1000), int64(1700000000123456))
	}
	c := &Change{
		Table: TableID{Database: "shop", Schema: "public", Table: "orders"}, Op: OpUpdate, Columns: cols, Key: []string{"id"},
		Before: row, After: row,
		Source: Source{Version: "2.7.1.Final", Connector: ConnectorPostgres, Name: "shop", TsMs: 1764100127887, DB: "shop",
			Schema: "public", Table: "orders", TxID: 492, LSN: 23044320, CommitLSN: 23044300},
		TsMs: 1764100128175,
	}
	v, err := EncodeValue(c, withSchema)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkParseHeader: ParseHeader and DecodeEnvelope against the
// baseline, encoding/json decoding the same value into a map.
func BenchmarkParseHeader(b *testing.B) {
	for _, withSchema := range []bool{false, true} {
		value := benchEvent(b, withSchema)
		name := fmt.Sprintf("schema=%v/%dB", withSchema, len(value))
		b.Run(name+"/ParseHeader", func(b *testing.B) {
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h, err := ParseHeader(value)
				if err != nil || h.OrderingKey == "" {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/baseline-encoding-json-map", func(b *testing.B) {
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var m map[string]any
				if err := json.Unmarshal(value, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/DecodeEnvelope", func(b *testing.B) {
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := DecodeEnvelope(value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
