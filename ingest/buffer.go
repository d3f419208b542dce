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

// rowBuffer holds a microbatch's rows per topic until they are written as
// data files. Rows are written sorted by (topic, partition, offset);
// ingest_ts is the same for the whole microbatch, so this is the table's
// clustering order (topic, ingest_ts) refined by position.
//
// A topic's rows become a file when their estimated encoded size reaches
// the target, or, when the buffer as a whole holds MaxBufferBytes, the
// largest topics are written out early: memory stays bounded whatever the
// backlog. What is left at the end of a microbatch is packed into files of
// several topics (still sorted by topic, so their topic min/max stats stay
// narrow).
type rowBuffer struct {
	target, limit int64
	topics        map[string]*topicRows
	bytes         int64 // buffered, as rawRecord.size counts
	// Learned ratio of encoded file bytes to buffered bytes, to turn the
	// buffered size into a file size estimate before encoding.
	fileBytes, inBytes int64
}

type topicRows struct {
	recs  []rawRecord
	bytes int64
}

func newRowBuffer(target, limit int64) *rowBuffer {
	return &rowBuffer{target: target, limit: limit, topics: make(map[string]*topicRows)}
}

func (b *rowBuffer) add(topic string, r rawRecord) {
	t := b.topics[topic]
	if t == nil {
		t = &topicRows{}
		b.topics[topic] = t
	}
	t.recs = append(t.recs, r)
	n := r.size()
	t.bytes += n
	b.bytes += n
}

// estimate is the expected encoded size of n buffered bytes.
func (b *rowBuffer) estimate(n int64) int64 {
	if b.inBytes == 0 {
		return n / 2 // before the first file: Debezium JSON compresses about 2-10x
	}
	return int64(float64(n) * float64(b.fileBytes) / float64(b.inBytes))
}

// due returns the topics to write now: those whose rows reach the target
// file size, then the largest until the buffer is under half its limit.
func (b *rowBuffer) due() []string {
	var out []string
	left := b.bytes
	for name, t := range b.topics {
		if b.estimate(t.bytes) >= b.target {
			out = append(out, name)
			left -= t.bytes
		}
	}
	if left >= b.limit {
		rest := make([]string, 0, len(b.topics))
		for name := range b.topics {
			if !slices.Contains(out, name) {
				rest = append(rest, name)
			}
		}
		slices.SortFunc(rest, func(x, y string) int { return cmp.Compare(b.topics[y].bytes, b.topics[x].bytes) })
		for _, name := range rest {
			if left < b.limit/2 {
				break
			}
			out = append(out, name)
			left -= b.topics[name].bytes
		}
	}
	slices.Sort(out)
	return out
}

// take removes the named topics' rows from the buffer, sorted for writing.
func (b *rowBuffer) take(names []string) []topicChunk {
	chunks := make([]topicChunk, 0, len(names))
	for _, name := range names {
		t := b.topics[name]
		delete(b.topics, name)
		b.bytes -= t.bytes
		// Records of one partition arrive in offset order; a stable sort
		// by partition restores (partition, offset) order.
		slices.SortStableFunc(t.recs, func(x, y rawRecord) int { return cmp.Compare(x.partition, y.partition) })
		chunks = append(chunks, topicChunk{topic: name, recs: t.recs, bytes: t.bytes})
	}
	return chunks
}

// packAll removes every buffered row, grouped into files of about the
// target size, each a run of consecutive topics.
func (b *rowBuffer) packAll() [][]topicChunk {
	names := make([]string, 0, len(b.topics))
	for name := range b.topics {
		names = append(names, name)
	}
	slices.Sort(names)
	var files [][]topicChunk
	var cur []topicChunk
	var curBytes int64
	for _, c := range b.take(names) {
		if len(cur) > 0 && b.estimate(curBytes+c.bytes) > b.target {
			files = append(files, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, c)
		curBytes += c.bytes
	}
	if len(cur) > 0 {
		files = append(files, cur)
	}
	return files
}

type topicChunk struct {
	topic string
	recs  []rawRecord
	bytes int64
}

// writeRawFile encodes chunks (sorted by topic) as one data file and
// uploads it. The returned Add is not committed yet.
func (b *rowBuffer) writeRawFile(ctx context.Context, store blob.Store, chunks []topicChunk, ingestTS time.Time, batchID string) (*lakelog.Add, int64, error) {
	w, err := datafile.NewWriter(rawSchema, datafile.Options{})
	if err != nil {
		return nil, 0, fmt.Errorf("raw file writer: %w", err)
	}
	var rows, in int64
	for _, c := range chunks {
		for i := range c.recs {
			r := &c.recs[i]
			if err := w.Write(r.row(c.topic, ingestTS, batchID)); err != nil {
				return nil, 0, fmt.Errorf("raw row %s[%d]@%d: %w", c.topic, r.partition, r.offset, err)
			}
			rows++
		}
		in += c.bytes
	}
	add, err := w.Finish(ctx, store, "")
	if err != nil {
		return nil, 0, fmt.Errorf("write raw file: %w", err)
	}
	b.fileBytes += add.Size
	b.inBytes += in
	return add, rows, nil
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
