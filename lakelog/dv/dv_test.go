package dv_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/lakelog/dv"
)

// fixturesDir finds the Spark/delta-rs/kernel fixtures (see
// /work/shared/testdata/delta/SOURCES.md), as lakelog's tests do.
func fixturesDir(tb testing.TB) string {
	tb.Helper()
	for _, c := range []string{os.Getenv("SLUICE_DELTA_FIXTURES"), "../../../shared/testdata/delta", "/work/shared/testdata/delta"} {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "SOURCES.md")); err == nil {
			return c
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("delta fixtures not found; set SLUICE_DELTA_FIXTURES")
	}
	tb.Skip("delta fixtures not found; set SLUICE_DELTA_FIXTURES")
	return ""
}

// TestSparkDVs decodes every DV of the fixtures' latest snapshots. Where
// the fixture's commits say which rows a DELETE removed (commitInfo
// predicates, written by Spark), the decoded positions must be exactly
// the positions of the rows matching that predicate, read from the
// Parquet file.
func TestSparkDVs(t *testing.T) {
	evens := func(v int64) bool { return v%2 == 0 && v >= 0 && v <= 28 }
	cases := []struct {
		name    string
		column  string           // "" : decode and count only
		deleted func(int64) bool // the fixture's DELETE predicates
		files   int              // adds with a DV, at least
	}{
		{"delta-rs/table-with-dv-small", "value", func(v int64) bool { return v == 0 || v == 9 }, 1},
		{"spark-golden/log-replay-dv-key-cases", "id", func(v int64) bool { return v == 0 || v == 7 || v == 14 }, 1},
		{"spark-golden/dv-partitioned-with-checkpoint", "col1", evens, 2},
		{"spark-golden/dv-with-columnmapping", "", nil, 2}, // physical column names: not read here
		{"delta-kernel-rs/with-short-dv", "", nil, 1},
		{"delta-rs/table_with_deletion_logs", "", nil, 1},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(fixturesDir(t), tc.name)
			store, err := fileblob.New(root)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			r := dv.NewReader(store)
			withDV := 0
			for _, add := range snap.Files() {
				d := add.DeletionVector
				if d == nil {
					continue
				}
				withDV++
				key, err := d.StoreKey()
				if err != nil {
					t.Fatal(err)
				}
				// The file name Spark chose must be what the descriptor maps to.
				if _, err := os.Stat(filepath.Join(root, key)); err != nil {
					t.Fatalf("%s: DV file: %v", add.Path, err)
				}
				pos, err := r.Read(ctx, d)
				if err != nil {
					t.Fatalf("%s: %v", add.Path, err)
				}
				if int64(len(pos)) != d.Cardinality || !slices.IsSorted(pos) {
					t.Fatalf("%s: %d positions (sorted %v), cardinality %d", add.Path, len(pos), slices.IsSorted(pos), d.Cardinality)
				}
				st, err := add.ParsedStats()
				if err != nil || st == nil {
					t.Fatalf("%s: stats %v %v", add.Path, st, err)
				}
				if len(pos) > 0 && int64(pos[len(pos)-1]) >= st.NumRecords {
					t.Fatalf("%s: position %d beyond %d records", add.Path, pos[len(pos)-1], st.NumRecords)
				}
				// Re-encoding gives a DV that decodes to the same positions.
				again, err := dv.Decode(dv.Encode(pos), uint64(len(pos)))
				if err != nil || !slices.Equal(again, pos) {
					t.Fatalf("%s: round trip: %v %v", add.Path, again, err)
				}
				if tc.column == "" {
					continue
				}
				schema := &lakelog.StructType{}
				for _, f := range snap.Schema().Fields {
					if f.Name == tc.column {
						schema.Fields = append(schema.Fields, f)
					}
				}
				rows, err := datafile.ReadFile(ctx, store, add, schema)
				if err != nil {
					t.Fatal(err)
				}
				var want []uint64
				for i := uint64(0); ; i++ {
					row, ok := rows.Next()
					if !ok {
						break
					}
					var v int64
					switch x := row[0].(type) {
					case int64:
						v = x
					case int32:
						v = int64(x)
					default:
						t.Fatalf("%s: value %T", tc.column, row[0])
					}
					if tc.deleted(v) {
						want = append(want, i)
					}
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(pos, want) {
					t.Fatalf("%s: DV positions %v, rows matching the DELETE predicates at %v", add.Path, pos, want)
				}
			}
			if withDV < tc.files {
				t.Fatalf("%d files with a DV, want at least %d", withDV, tc.files)
			}
		})
	}
}

// TestEncodeLayout checks the encoder's bytes against the portable
// Roaring layout written out by hand (spec: RoaringFormatSpec).
func TestEncodeLayout(t *testing.T) {
	got := dv.EncodeBitmap([]uint64{0, 9, 1<<32 + 5})
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, 2) // two 32-bit buckets
	// bucket 0: cookie 12346, 1 container, header (key 0, card-1 1), offset 16, values 0 9
	want = append(want, le32(0)...)
	want = append(want, le32(12346)...)
	want = append(want, le32(1)...)
	want = append(want, le16(0)...)
	want = append(want, le16(1)...)
	want = append(want, le32(16)...)
	want = append(want, le16(0)...)
	want = append(want, le16(9)...)
	// bucket 1: value 5
	want = append(want, le32(1)...)
	want = append(want, le32(12346)...)
	want = append(want, le32(1)...)
	want = append(want, le16(0)...)
	want = append(want, le16(0)...)
	want = append(want, le32(16)...)
	want = append(want, le16(5)...)
	if !slices.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
}

// TestRunContainers decodes a run container (Spark writes them after
// runOptimize; our encoder does not), laid out by hand.
func TestRunContainers(t *testing.T) {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, 1)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 12347) // run cookie, size-1 = 0
	b = append(b, 1)                               // container 0 is a run container
	b = binary.LittleEndian.AppendUint16(b, 3)     // key 3
	b = binary.LittleEndian.AppendUint16(b, 4)     // cardinality-1
	// no offsets below 4 containers
	b = binary.LittleEndian.AppendUint16(b, 2) // 2 runs
	b = binary.LittleEndian.AppendUint16(b, 10)
	b = binary.LittleEndian.AppendUint16(b, 2) // 10..12
	b = binary.LittleEndian.AppendUint16(b, 20)
	b = binary.LittleEndian.AppendUint16(b, 1) // 20..21
	got, err := dv.DecodeBitmap(b, 100)
	if err != nil {
		t.Fatal(err)
	}
	base := uint64(3) << 16
	want := []uint64{base + 10, base + 11, base + 12, base + 20, base + 21}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := dv.DecodeBitmap(b, 4); !errors.Is(err, dv.ErrCorrupt) {
		t.Fatalf("limit 4: err = %v, want ErrCorrupt", err)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]uint64{
		"empty":  nil,
		"one":    {7},
		"dense":  seq(0, 70000),                    // bitmap containers
		"sparse": {1, 1 << 20, 1 << 33, 1<<40 + 3}, // several buckets
	}
	var random []uint64
	for range 20000 {
		random = append(random, uint64(rng.IntN(3_000_000)))
	}
	slices.Sort(random)
	cases["random"] = slices.Compact(random)
	ctx := context.Background()
	store := memblob.New()
	w := dv.NewFileWriter("ab")
	descs := map[string]*lakelog.DeletionVector{}
	for name, pos := range cases {
		got, err := dv.Decode(dv.Encode(pos), uint64(len(pos)))
		if err != nil || !slices.Equal(got, pos) {
			t.Fatalf("%s: got %d positions, err %v", name, len(got), err)
		}
		descs[name] = w.Add(pos)
	}
	if err := w.Finish(ctx, store); err != nil {
		t.Fatal(err)
	}
	r := dv.NewReader(store)
	for name, pos := range cases {
		got, err := r.Read(ctx, descs[name])
		if err != nil || !slices.Equal(got, pos) {
			t.Fatalf("%s from file: %d positions, err %v", name, len(got), err)
		}
		if len(pos) < 100 {
			got, err := r.Read(ctx, dv.Inline(pos))
			if err != nil || !slices.Equal(got, pos) {
				t.Fatalf("%s inline: %v, err %v", name, got, err)
			}
		}
	}
	// The file layout: version byte, then size, DV, CRC at each offset.
	rc, err := store.Get(ctx, w.Key())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := rc.Read(buf)
	rc.Close()
	if n < 1 || buf[0] != 1 {
		t.Fatalf("version byte %d", buf[0])
	}
	if key, _ := descs["one"].StoreKey(); key != w.Key() || filepath.Dir(key) != "ab" {
		t.Fatalf("store key %q, writer key %q", key, w.Key())
	}
}

// TestCorruptFile: a flipped byte is caught by the checksum.
func TestCorruptFile(t *testing.T) {
	ctx := context.Background()
	store := memblob.New()
	w := dv.NewFileWriter("")
	d := w.Add([]uint64{1, 2, 3})
	ser := dv.Encode([]uint64{1, 2, 3})
	data := []byte{1}
	data = binary.BigEndian.AppendUint32(data, uint32(len(ser)))
	data = append(data, ser...)
	data = binary.BigEndian.AppendUint32(data, crc32.ChecksumIEEE(ser))
	data[10] ^= 0xff
	if err := store.Put(ctx, w.Key(), data); err != nil {
		t.Fatal(err)
	}
	if _, err := dv.NewReader(store).Read(ctx, d); !errors.Is(err, dv.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func FuzzDecodeBitmap(f *testing.F) {
	f.Add(dv.EncodeBitmap([]uint64{0, 9}))
	f.Add(dv.EncodeBitmap(seq(0, 5000)))
	f.Add(dv.EncodeBitmap([]uint64{1 << 35}))
	f.Fuzz(func(t *testing.T, b []byte) {
		pos, err := dv.DecodeBitmap(b, 1<<16)
		if err != nil {
			return
		}
		if !slices.IsSorted(pos) || len(slices.Compact(slices.Clone(pos))) != len(pos) {
			t.Fatalf("decoded positions not sorted and distinct")
		}
		again, err := dv.DecodeBitmap(dv.EncodeBitmap(pos), 1<<16)
		if err != nil || !slices.Equal(again, pos) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// TestReadFileSkipsDeletedRows reads the Spark fixture through dv.ReadFile:
// ids 0..49 minus the three its DELETEs removed.
func TestReadFileSkipsDeletedRows(t *testing.T) {
	ctx := context.Background()
	store, err := fileblob.New(filepath.Join(fixturesDir(t), "spark-golden/log-replay-dv-key-cases"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := lakelog.Open(store, lakelog.Options{}).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, f := range snap.Files() {
		rows, err := dv.ReadFile(ctx, store, nil, f, snap.Schema())
		if err != nil {
			t.Fatal(err)
		}
		if rows.Len() != 47 {
			t.Fatalf("Len = %d, want 47", rows.Len())
		}
		for row, ok := rows.Next(); ok; row, ok = rows.Next() {
			got = append(got, row[0].(int64))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var want []int64
	for i := range int64(50) {
		if i != 0 && i != 7 && i != 14 {
			want = append(want, i)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
