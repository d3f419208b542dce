package schemas

import (
	"bytes"
	"testing"
)

// TestTableEncoderMatchesEncode: for every change the cached encoder's key
// and value bytes equal EncodeKey/EncodeValue's (whose output the golden
// tests check against real Debezium samples), row after row with one
// encoder, including appends to a reused non-empty buffer.
func TestTableEncoderMatchesEncode(t *testing.T) {
	mysql := &Change{
		Table: TableID{Database: "test", Table: "t_test"}, Op: OpRead,
		Columns: []Column{{Name: "id", Type: Int32}, {Name: "k2", Type: String}, {Name: "v", Type: String, Optional: true}},
		Key:     []string{"k2", "id"},
		After:   []any{int32(14), "a\"b", nil},
		Source: Source{Version: "3.0.7.Final", Connector: ConnectorMariaDB, Name: "test", TsMs: 1741000296000,
			DB: "test", Table: "t_test", ServerID: 1, File: "binlog.000004", Pos: 3134, Snapshot: "true"},
		TsMs: 1741000296823,
	}
	deleted := allTypesChange()
	deleted.Op = OpDelete
	deleted.Before, deleted.After = deleted.After, nil
	deleted.Transaction = &Transaction{ID: "7:200", TotalOrder: 3, DataCollectionOrder: 1}
	keyless := pgPersonsChange()
	keyless.Key = nil

	for _, tt := range []struct {
		name string
		c    *Change
		rows [][]any // further After images of the same table
	}{
		{"pg persons", pgPersonsChange(), [][]any{{int32(3), nil, int32(0)}, {int32(4), "\u00e9\n", nil}}},
		{"all types update", allTypesChange(), nil},
		{"all types delete", deleted, nil},
		{"mariadb composite key", mysql, [][]any{{int32(-1), "", "x"}}},
		{"pg keyless", keyless, [][]any{{int32(5), "z", int32(1)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewTableEncoder(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			keyBuf := []byte("junk")
			valBuf := []byte("junk")
			check := func() {
				t.Helper()
				wantKey, err := EncodeKey(tt.c, true)
				if err != nil {
					t.Fatal(err)
				}
				wantVal, err := EncodeValue(tt.c, true)
				if err != nil {
					t.Fatal(err)
				}
				gotKey, err := e.AppendKey(keyBuf[:0], tt.c)
				if err != nil {
					t.Fatal(err)
				}
				gotVal, err := e.AppendValue(valBuf[:0], tt.c)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(gotKey, wantKey) {
					t.Errorf("key differs\n got %s\nwant %s", gotKey, wantKey)
				}
				if !bytes.Equal(gotVal, wantVal) {
					t.Errorf("value differs\n got %s\nwant %s", gotVal, wantVal)
				}
				// Appending keeps what dst held.
				pre := []byte("prefix")
				gotVal, err = e.AppendValue(pre, tt.c)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(gotVal, append([]byte("prefix"), wantVal...)) {
					t.Errorf("append to non-empty dst differs: %s", gotVal)
				}
				keyBuf, valBuf = gotKey, gotVal
			}
			check()
			for _, r := range tt.rows {
				tt.c.After = r
				tt.c.Source.Snapshot = "last"
				tt.c.TsMs++
				check()
			}
		})
	}
}

func TestTableEncoderRefusesOtherTable(t *testing.T) {
	e, err := NewTableEncoder(pgPersonsChange())
	if err != nil {
		t.Fatal(err)
	}
	other := pgPersonsChange() // equal contents, but its own Columns slice
	if _, err := e.AppendValue(nil, other); err == nil {
		t.Error("AppendValue of another table's change: no error")
	}
	if _, err := e.AppendKey(nil, other); err == nil {
		t.Error("AppendKey of another table's change: no error")
	}
}

func TestTableEncoderErrors(t *testing.T) {
	c := pgPersonsChange()
	c.Source.Connector = "oracle"
	if _, err := NewTableEncoder(c); err == nil {
		t.Error("unknown connector: no error")
	}
	c = pgPersonsChange()
	c.Key = []string{"nope"}
	if _, err := NewTableEncoder(c); err == nil {
		t.Error("key column not in columns: no error")
	}
	c = pgPersonsChange()
	e, err := NewTableEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	c.After = c.After[:2]
	if _, err := e.AppendValue(nil, c); err == nil {
		t.Error("short row: no error")
	}
	c.After = []any{Unavailable{}, "x", int32(1)}
	if _, err := e.AppendKey(nil, c); err == nil {
		t.Error("unavailable key column: no error")
	}
}

// BenchmarkEncodeValueCached compares one row's value record with the
// schema rebuilt (EncodeValue) and cached (TableEncoder).
//
//	go test ./schemas -run XXX -bench EncodeValueCached
func BenchmarkEncodeValueCached(b *testing.B) {
	c := allTypesChange()
	b.Run("EncodeValue", func(b *testing.B) {
		for b.Loop() {
			if _, err := EncodeValue(c, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TableEncoder", func(b *testing.B) {
		e, err := NewTableEncoder(c)
		if err != nil {
			b.Fatal(err)
		}
		var buf []byte
		for b.Loop() {
			if buf, err = e.AppendValue(buf[:0], c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
