package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

// noisyRecord is a ~1 KB change whose payload is random hex, so it
// compresses about 2x like real rows (a repeated pad would compress 50x and
// hide sizing errors).
func noisyRecord(rng *rand.Rand, partition int32, offset int64) rawRecord {
	const hexDigits = "0123456789abcdef"
	pad := make([]byte, 800)
	for i := range pad {
		pad[i] = hexDigits[rng.IntN(16)]
	}
	value := fmt.Appendf(nil, `{"before":null,"after":{"id":%d,"note":"%s"},"op":"c"}`, offset, pad)
	return rawRecord{partition: partition, offset: offset, key: fmt.Appendf(nil, `{"id":%d}`, offset), value: value,
		env: envelopeFields{op: "c", orderingKey: fmt.Sprintf("%020d", offset)}}
}

// fileRows reads a written file back with datafile.ReadFile and returns its
// (topic, partition, offset) in file order.
func fileRows(t *testing.T, b *fileBuffer, add *lakelog.Add) []string {
	t.Helper()
	rows, err := datafile.ReadFile(context.Background(), b.store, add, rawSchema)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		v, ok := rows.Next()
		if !ok {
			break
		}
		out = append(out, fmt.Sprintf("%s/%d/%020d", v[0], v[2], v[3]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFileBufferSizesFilesByTarget streams one busy topic across many adds
// (as across many fetches) and checks the files are cut at the target, not
// per add, and that every row is in exactly one file, in position order.
func TestFileBufferSizesFilesByTarget(t *testing.T) {
	ctx := context.Background()
	const target = 1 << 20
	b := newFileBuffer(memblob.New(), t.TempDir(), target, 64<<20)
	b.begin(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), "batch-1")
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 10000 // ~8.5 MB of rows, ~4 MB encoded: about 4 files
	var want []string
	for i := range n {
		r := noisyRecord(rng, int32(i%2), int64(i/2))
		if err := b.add(ctx, "srv.public.busy", &r); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("srv.public.busy/%d/%020d", i%2, i/2))
	}
	ws, err := b.flushAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) < 3 {
		t.Fatalf("%d files, want the ~4 MB of encoded rows cut into several files of %d bytes", len(ws), target)
	}
	var got []string
	for i, w := range ws {
		// Size is checked every sizeCheckRows rows: a full file ends within
		// 64 rows (< 64 KB raw) past the target. The first file is cut
		// before the buffer learned how the writer's estimate relates to
		// the final size (it ends at ~75%), the last holds the rest.
		if i > 0 && i < len(ws)-1 && (w.add.Size < target*3/4 || w.add.Size > target+64<<10) {
			t.Errorf("file %d: %d bytes, want about %d", i, w.add.Size, target)
		}
		rows := fileRows(t, b, w.add)
		if int64(len(rows)) != w.rows {
			t.Errorf("file %d: %d rows read, %d reported", i, len(rows), w.rows)
		}
		got = append(got, rows...)
		assertTopicStats(t, w.add, "srv.public.busy", "srv.public.busy")
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rows read back differ from rows added (%d vs %d)", len(got), len(want))
	}
}

// TestFileBufferMemoryBounded feeds many busy topics round robin with a
// limit far below what their writers would buffer: the memory held never
// passes the limit, even measuring every open writer afresh; the writers
// spill row groups to their temporary files rather than cutting files
// early (one file per topic), all rows land, and no temporary file is left.
func TestFileBufferMemoryBounded(t *testing.T) {
	ctx := context.Background()
	const limit = 32 << 20
	tmp := t.TempDir()
	b := newFileBuffer(memblob.New(), tmp, 64<<20, limit)
	b.begin(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), "batch-1")
	rng := rand.New(rand.NewPCG(3, 4))
	const topics, n = 8, 30000 // 8 busy topics whose writers alone would hold 2x the limit
	var files []written
	var peak int64
	for i := range n {
		r := noisyRecord(rng, 0, int64(i/topics))
		if err := b.add(ctx, fmt.Sprintf("srv.public.t%02d", i%topics), &r); err != nil {
			t.Fatal(err)
		}
		files = append(files, b.takeDone()...)
		real := b.pendingBytes
		for _, f := range b.open {
			real += f.w.HeldBytes()
		}
		peak = max(peak, real)
		if real > limit {
			t.Fatalf("after row %d: %d bytes held (pending %d, %d open files), limit %d", i, real, b.pendingBytes, len(b.open), limit)
		}
	}
	ws, err := b.flushAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, ws...)
	var rows int64
	for _, w := range files {
		rows += w.rows
	}
	if rows != n {
		t.Errorf("%d rows in files, want %d", rows, n)
	}
	if len(files) != topics {
		t.Errorf("%d files, want %d: a topic's ~2 MB fits one file once row groups are spilled", len(files), topics)
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("temp dir: %d entries left (err %v)", len(ents), err)
	}
	t.Logf("peak held %d of limit %d, %d files", peak, limit, len(files))
}

// TestFileBufferPacksQuietTopics checks that many small topics share files
// sorted by topic, with topic stats covering exactly their range.
func TestFileBufferPacksQuietTopics(t *testing.T) {
	ctx := context.Background()
	b := newFileBuffer(memblob.New(), t.TempDir(), 128<<20, 256<<20)
	b.begin(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), "batch-1")
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 1000 {
		// Topics arrive out of order, partitions interleaved.
		topic := fmt.Sprintf("srv.public.t%03d", (i*37)%100)
		r := noisyRecord(rng, int32(i%3), int64(i))
		if err := b.add(ctx, topic, &r); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := b.flushAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 {
		t.Fatalf("%d files, want 1 (1 MB of rows in 100 quiet topics)", len(ws))
	}
	rows := fileRows(t, b, ws[0].add)
	if len(rows) != 1000 {
		t.Fatalf("%d rows, want 1000", len(rows))
	}
	if !slices.IsSorted(rows) {
		t.Errorf("rows not sorted by (topic, partition, offset): first %v", rows[:5])
	}
	assertTopicStats(t, ws[0].add, "srv.public.t000", "srv.public.t099")
}

// assertTopicStats checks the file's Delta stats bound topic by min..max.
func assertTopicStats(t *testing.T, add *lakelog.Add, min, max string) {
	t.Helper()
	var st struct {
		MinValues map[string]any `json:"minValues"`
		MaxValues map[string]any `json:"maxValues"`
	}
	if err := json.Unmarshal([]byte(add.Stats), &st); err != nil {
		t.Fatalf("stats of %s: %v", add.Path, err)
	}
	if st.MinValues["topic"] != min || st.MaxValues["topic"] != max {
		t.Errorf("%s: topic stats %v..%v, want %s..%s", add.Path, st.MinValues["topic"], st.MaxValues["topic"], min, max)
	}
	if st.MinValues["ingest_ts"] == nil || st.MaxValues["ingest_ts"] == nil {
		t.Errorf("%s: no ingest_ts stats: %s", add.Path, add.Stats)
	}
}
