package ingest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/datafile"
)

// fileBuffer turns one microbatch's rows into raw data files of about the
// target size while holding at most its limit in memory, whatever the
// backlog.
//
// A topic's rows first wait as copies (pending). Once a topic has more than
// spillBytes pending, it gets its own streaming Parquet writer and every row
// of it is encoded as it arrives. The writer builds its file in an unlinked
// temporary file (tempDir): what stays in memory is its current row group
// (at most rawRowGroupBytes of encoded pages, plus column buffers). The file
// is uploaded when it reaches the target, mapped from the temporary file
// rather than copied onto the heap.
// Small topics (a trickle of changes over many tables) stay pending and are
// packed together at the end of the microbatch into files of consecutive
// topics, so a thousand quiet tables do not make a thousand tiny files.
//
// Memory held = pending row copies + per open writer datafile HeldBytes (its
// row group's buffers and fixed overhead; zstd encoders are shared by all
// writers and bounded by datafile). When it reaches limit, pending rows are
// packed and the largest open files flush their row groups to their
// temporary files (smaller row groups, same files); only writers with
// little buffered are finished early, until it is under half the limit.
// Uploading a file also maps the whole file (up to the target) while the
// upload runs, one file at a time.
//
// Sort order: ingest_ts is the same for the whole microbatch and a file
// never spans microbatches (every file is finished before the commit), so
// files are sorted by the table's clustering (topic, ingest_ts). A
// multi-topic file is sorted by topic, then (partition, offset); a
// streaming file keeps each partition's offsets ascending.
type fileBuffer struct {
	target, limit, spill int64
	store                blob.Store
	tempDir              string // where open files are built
	ingestTS             any    // time.Time, boxed once per microbatch
	batchID              any    // string

	pending      map[string]*topicRows
	pendingBytes int64
	open         map[string]*openFile
	openBytes    int64     // sum of the open files' size fields
	done         []written // finished files not yet taken
	// Learned ratio of encoded file bytes to buffered row bytes, to pack
	// pending rows into files of about the target size.
	fileBytes, inBytes int64
	// Learned ratio of finished file size to the writer's EstimatedSize
	// just before (which counts page buffers before compression), so open
	// files are cut at the target.
	finalBytes, estBytes int64
}

type topicRows struct {
	recs  []rawRecord
	bytes int64
}

// openFile is a topic's streaming data file.
type openFile struct {
	w   *datafile.Writer
	row []any // reused: Write does not keep it
	in  int64 // row bytes written, as rawRecord.size counts
	// size is the writer's HeldBytes at the last measurement plus twice
	// the buffered size of each row written since: the memory it holds.
	size int64
}

// sizeCheckRows is how often (in rows) an open file's size is measured:
// the Parquet writer encodes rows in batches of 64, and measuring walks
// every column buffer.
const sizeCheckRows = 64

// spillBytes is the pending size past which a topic gets its own streaming
// writer: big enough that a quiet topic shares a file with others, small
// enough that pending copies are a small part of the memory limit.
func spillBytes(target, limit int64) int64 {
	return max(min(4<<20, target/8, limit/16), 1)
}

func newFileBuffer(store blob.Store, tempDir string, target, limit int64) *fileBuffer {
	return &fileBuffer{target: target, limit: limit, spill: spillBytes(target, limit), store: store, tempDir: tempDir,
		pending: make(map[string]*topicRows), open: make(map[string]*openFile)}
}

// discard drops every open file (closing their temporary files) and
// pending row, for a microbatch that will not be committed.
func (b *fileBuffer) discard() {
	for name, f := range b.open {
		f.w.Discard()
		delete(b.open, name)
	}
	clear(b.pending)
	b.openBytes, b.pendingBytes = 0, 0
}

// begin starts a microbatch: the rows written from now on carry ingestTS
// and batchID. The buffer must be empty (after flushAll).
func (b *fileBuffer) begin(ingestTS time.Time, batchID string) {
	b.ingestTS, b.batchID = ingestTS, batchID
}

// written is one finished, uploaded, not yet committed data file.
type written struct {
	add  *lakelog.Add
	rows int64
}

// held is the memory the buffer accounts for: pending row copies and the
// open files as last measured.
func (b *fileBuffer) held() int64 { return b.pendingBytes + b.openBytes }

// add buffers one row. r's byte slices may point into a Kafka fetch buffer:
// they are either encoded right away or copied, never retained. Files that
// are due (full, or memory over the limit) are finished and uploaded here;
// takeDone returns them.
func (b *fileBuffer) add(ctx context.Context, topic string, r *rawRecord) error {
	if f := b.open[topic]; f != nil {
		if err := f.write(topic, r, b.ingestTS, b.batchID); err != nil {
			return err
		}
		if f.w.Rows()%sizeCheckRows != 0 {
			// Until measured, count the row's buffered size twice (see
			// HeldBytes): more than it adds, so accounting never falls behind.
			n := 2 * r.size()
			f.size += n
			b.openBytes += n
			return b.shrink(ctx)
		}
		b.measure(f)
		if b.projected(f.w.EstimatedSize()) >= b.target {
			if err := b.finish(ctx, topic); err != nil {
				return err
			}
		}
		return b.shrink(ctx)
	}
	t := b.pending[topic]
	if t == nil {
		t = &topicRows{}
		b.pending[topic] = t
	}
	c := r.clone()
	t.recs = append(t.recs, c)
	n := c.size()
	t.bytes += n
	b.pendingBytes += n
	if t.bytes < b.spill {
		return b.shrink(ctx)
	}
	// The topic is busy: stream it from now on.
	delete(b.pending, topic)
	b.pendingBytes -= t.bytes
	f, err := newOpenFile(b.tempDir)
	if err != nil {
		return err
	}
	b.open[topic] = f
	sortByPosition(t.recs)
	for i := range t.recs {
		if err := f.write(topic, &t.recs[i], b.ingestTS, b.batchID); err != nil {
			return err
		}
	}
	b.measure(f)
	return b.shrink(ctx)
}

func (b *fileBuffer) measure(f *openFile) {
	n := f.w.HeldBytes()
	b.openBytes += n - f.size
	f.size = n
}

// minSpillRowGroup is the smallest row group shrink flushes early; a
// writer holding less is finished instead, so that no file is made of
// tiny row groups.
const minSpillRowGroup = 1 << 20

// takeDone returns the files finished since the last call.
func (b *fileBuffer) takeDone() []written {
	d := b.done
	b.done = nil
	return d
}

// shrink, when the memory held reaches the limit, packs the pending rows
// (if they are a good part of it) and finishes the largest open files
// until it is under half the limit.
func (b *fileBuffer) shrink(ctx context.Context) error {
	if b.held() < b.limit {
		return nil
	}
	if b.pendingBytes >= b.limit/4 {
		if err := b.packPending(ctx); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(b.open))
	for name, f := range b.open {
		b.measure(f)
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int { return cmp.Compare(b.open[y].size, b.open[x].size) })
	for _, name := range names {
		if b.held() < b.limit/2 {
			return nil
		}
		f := b.open[name]
		if f.w.BufferedBytes() < minSpillRowGroup {
			continue
		}
		if err := f.w.FlushRowGroup(); err != nil {
			return fmt.Errorf("raw file of topic %s: %w", name, err)
		}
		b.measure(f)
	}
	for _, name := range names {
		if b.held() < b.limit/2 {
			break
		}
		if b.open[name] == nil {
			continue
		}
		if err := b.finish(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// flushAll finishes every open file and packs every pending row, ending
// the microbatch's files; it returns every file not taken yet, and the
// buffer is empty afterwards.
func (b *fileBuffer) flushAll(ctx context.Context) ([]written, error) {
	names := make([]string, 0, len(b.open))
	for name := range b.open {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := b.finish(ctx, name); err != nil {
			return nil, err
		}
	}
	if err := b.packPending(ctx); err != nil {
		return nil, err
	}
	return b.takeDone(), nil
}

// projected is the file size an open file of estimated size n ends up at.
func (b *fileBuffer) projected(n int64) int64 {
	if b.estBytes == 0 {
		return n
	}
	return int64(float64(n) * float64(b.finalBytes) / float64(b.estBytes))
}

func (b *fileBuffer) finish(ctx context.Context, topic string) error {
	f := b.open[topic]
	delete(b.open, topic)
	b.openBytes -= f.size
	rows := f.w.Rows()
	est := f.w.EstimatedSize()
	add, err := f.w.Finish(ctx, b.store, "")
	if err != nil {
		return fmt.Errorf("write raw file of topic %s: %w", topic, err)
	}
	b.finalBytes += add.Size
	b.estBytes += est
	b.fileBytes += add.Size
	b.inBytes += f.in
	b.done = append(b.done, written{add: add, rows: rows})
	return nil
}

// estimate is the expected encoded size of n buffered bytes.
func (b *fileBuffer) estimate(n int64) int64 {
	if b.inBytes == 0 {
		return n / 2 // before the first file: Debezium JSON compresses about 2-10x
	}
	return int64(float64(n) * float64(b.fileBytes) / float64(b.inBytes))
}

// packPending writes the pending rows as files of about the target size,
// each a run of consecutive topics, and empties the pending set.
func (b *fileBuffer) packPending(ctx context.Context) error {
	names := make([]string, 0, len(b.pending))
	for name := range b.pending {
		names = append(names, name)
	}
	slices.Sort(names)
	var f *openFile
	var curIn int64
	for _, name := range names {
		t := b.pending[name]
		delete(b.pending, name)
		b.pendingBytes -= t.bytes
		if f != nil && b.estimate(curIn+t.bytes) > b.target {
			if err := b.finishPacked(ctx, f); err != nil {
				return err
			}
			f, curIn = nil, 0
		}
		if f == nil {
			var err error
			if f, err = newOpenFile(b.tempDir); err != nil {
				return err
			}
		}
		sortByPosition(t.recs)
		for i := range t.recs {
			if err := f.write(name, &t.recs[i], b.ingestTS, b.batchID); err != nil {
				return err
			}
		}
		curIn += t.bytes
	}
	if f != nil {
		return b.finishPacked(ctx, f)
	}
	return nil
}

func (b *fileBuffer) finishPacked(ctx context.Context, f *openFile) error {
	rows := f.w.Rows()
	add, err := f.w.Finish(ctx, b.store, "")
	if err != nil {
		return fmt.Errorf("write raw file: %w", err)
	}
	b.fileBytes += add.Size
	b.inBytes += f.in
	b.done = append(b.done, written{add: add, rows: rows})
	return nil
}

// rawRowGroupBytes caps a raw file's row groups (compressed), so that a
// row group flush copies little and readers get row groups of a useful
// size (about 30k rows of 1 KB events).
const rawRowGroupBytes = 8 << 20

func newOpenFile(tempDir string) (*openFile, error) {
	w, err := datafile.NewWriter(rawSchema, datafile.Options{RowGroupBytes: rawRowGroupBytes, TempDir: tempDir})
	if err != nil {
		return nil, fmt.Errorf("raw file writer: %w", err)
	}
	return &openFile{w: w, row: make([]any, rawColumns)}, nil
}

func (f *openFile) write(topic string, r *rawRecord, ingestTS, batchID any) error {
	if err := f.w.Write(r.fillRow(f.row, topic, ingestTS, batchID)); err != nil {
		return fmt.Errorf("raw row %s[%d]@%d: %w", topic, r.partition, r.offset, err)
	}
	f.in += r.size()
	return nil
}

// sortByPosition restores (partition, offset) order: records of one
// partition arrive in offset order, so a stable sort by partition is
// enough.
func sortByPosition(recs []rawRecord) {
	slices.SortStableFunc(recs, func(x, y rawRecord) int { return cmp.Compare(x.partition, y.partition) })
}

// writeDeadLetterFile encodes dead letters as one file of the dead-letter
// table.
func writeDeadLetterFile(ctx context.Context, store blob.Store, dls []deadLetter, ingestTS time.Time, batchID string) (*lakelog.Add, error) {
	w, err := datafile.NewWriter(deadLetterSchema, datafile.Options{})
	if err != nil {
		return nil, fmt.Errorf("dead-letter file writer: %w", err)
	}
	for i := range dls {
		if err := w.Write(dls[i].row(ingestTS, batchID)); err != nil {
			return nil, fmt.Errorf("dead letter %s[%d]@%d: %w", dls[i].topic, dls[i].rec.partition, dls[i].rec.offset, err)
		}
	}
	add, err := w.Finish(ctx, store, "")
	if err != nil {
		return nil, fmt.Errorf("write dead-letter file: %w", err)
	}
	return add, nil
}

var (
	rawSchema        = RawSchema()
	deadLetterSchema = DeadLetterSchema()
)
