package snapshot

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func TestPickBoundaries(t *testing.T) {
	b := func(vs ...string) []Bound {
		out := make([]Bound, len(vs))
		for i, v := range vs {
			out[i] = Bound{v}
		}
		return out
	}
	tests := []struct {
		name   string
		sample []Bound
		chunks int
		want   []Bound
	}{
		{"one chunk", b("1", "2", "3"), 1, nil},
		{"empty sample", nil, 4, nil},
		{"even split", b("1", "2", "3", "4", "5", "6"), 3, b("2", "4")},
		{"uneven split", b("1", "2", "3", "4", "5", "6", "7"), 2, b("3")},
		{"more chunks than keys", b("1", "2"), 5, b("1")},
		// A skewed sample: "9" fills most of it; the duplicate
		// boundaries collapse into one.
		{"duplicates", b("1", "9", "9", "9", "9", "9"), 3, b("9")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PickBoundaries(tt.sample, tt.chunks)
			if !slices.EqualFunc(got, tt.want, func(a, b Bound) bool { return slices.Equal(a, b) }) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanChunksRejectsEqualBoundaries(t *testing.T) {
	if _, err := PlanChunks([]Bound{{"1"}, {"1"}}); err == nil {
		t.Fatal("equal boundaries: got no error")
	}
	got, err := PlanChunks(nil)
	if err != nil || len(got) != 1 || got[0].Lo != nil || got[0].Hi != nil {
		t.Fatalf("no boundaries: got %v, %v; want one unbounded chunk", got, err)
	}
}

// compareKey orders composite test keys (int a, string b) as PostgreSQL's
// row comparison (a, b) does.
func compareKey(x, y Bound) int {
	ax, _ := strconv.Atoi(x[0])
	ay, _ := strconv.Atoi(y[0])
	if c := cmp.Compare(ax, ay); c != 0 {
		return c
	}
	return cmp.Compare(x[1], y[1])
}

func contains(c Chunk, k Bound) bool {
	return (c.Lo == nil || compareKey(c.Lo, k) < 0) && (c.Hi == nil || compareKey(k, c.Hi) <= 0)
}

// FuzzChunkCoverage: for any key set (composite, duplicate-free), any
// ordered sample of it (with duplicates) and any chunk count, the planned
// chunks hold every key exactly once, and a full sample gives chunks
// within one row of equal size.
func FuzzChunkCoverage(f *testing.F) {
	f.Add(uint64(1), uint16(100), uint8(4), uint8(3))
	f.Add(uint64(7), uint16(1), uint8(9), uint8(1))
	f.Add(uint64(42), uint16(1000), uint8(50), uint8(0))
	f.Add(uint64(3), uint16(0), uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, chunks uint8, mode uint8) {
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:], seed)
		rng := rand.New(rand.NewChaCha8(s))
		// Skewed keys: a few values of a, many of b.
		seen := map[[2]string]bool{}
		var keys []Bound
		for range int(n % 2000) {
			a := strconv.Itoa(int(rng.ExpFloat64()*3) - 2)
			b := strconv.Itoa(rng.IntN(50))
			if seen[[2]string{a, b}] {
				continue
			}
			seen[[2]string{a, b}] = true
			keys = append(keys, Bound{a, b})
		}
		slices.SortFunc(keys, compareKey)
		var sample []Bound
		switch mode % 3 {
		case 0: // every key
			sample = keys
		case 1: // a random subset
			for _, k := range keys {
				if rng.IntN(4) == 0 {
					sample = append(sample, k)
				}
			}
		case 2: // a subset with repeats, as page sampling can give
			for _, k := range keys {
				for range rng.IntN(3) {
					sample = append(sample, k)
				}
			}
		}
		nChunks := int(chunks%64) + 1
		bounds := PickBoundaries(sample, nChunks)
		planned, err := PlanChunks(bounds)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		if len(planned) > nChunks {
			t.Fatalf("%d chunks, asked for %d", len(planned), nChunks)
		}
		for i := 1; i < len(bounds); i++ {
			if compareKey(bounds[i-1], bounds[i]) >= 0 {
				t.Fatalf("boundaries %d and %d not increasing: %v %v", i-1, i, bounds[i-1], bounds[i])
			}
		}
		sizes := make([]int, len(planned))
		for _, k := range keys {
			hits := 0
			for i, c := range planned {
				if contains(c, k) {
					hits++
					sizes[i]++
				}
			}
			if hits != 1 {
				t.Fatalf("key %v in %d chunks, want 1", k, hits)
			}
		}
		if mode%3 == 0 && len(keys) >= nChunks {
			lo, hi := len(keys)/nChunks, (len(keys)+nChunks-1)/nChunks
			for i, sz := range sizes {
				if sz < lo || sz > hi+1 {
					t.Fatalf("chunk %d holds %d keys, want %d..%d (sizes %v)", i, sz, lo, hi+1, sizes)
				}
			}
		}
	})
}

func TestChunkAppID(t *testing.T) {
	got := ChunkAppID("initial", "db.public.t", 12)
	if want := "sluice-snapshot|initial|db.public.t|12"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"", "a|b", "a/b", ".x"} {
		if err := validSnapshotID(bad); err == nil {
			t.Errorf("snapshot id %q: got no error", bad)
		}
	}
}
