package snapshot

import (
	"context"
	"errors"
)

// A chunk's work has two halves of about the same cost per row: reading
// and converting the source rows and encoding their Debezium JSON (on the
// goroutine that runs View.ReadChunk's emit), and shredding, encoding and
// compressing the raw rows into Parquet (datafile). chunkPipeline runs the
// second half on a goroutine of its own, so one worker keeps two cores
// busy instead of one, and the source's stream is drained while the
// previous rows compress.
//
// Rows travel in batches of encoded key and value bytes (never the decoded
// values, whose []byte the source may reuse). At most pipelineBatches
// batches exist per chunk, so a slow writer stops the reader (which, through
// ReadChunk, back-pressures the source's stream) and memory stays bounded:
// pipelineBatches × pipelineBatchRows rows of JSON.
type chunkPipeline struct {
	b  *rowBuilder
	fw *fileWriter

	full chan *rowBatch // encoded batches for the writer
	free chan *rowBatch // batches the writer is done with
	done chan struct{}  // closed when the writer goroutine returns
	err  error          // the writer's error; read only after done
	cur  *rowBatch      // the batch the reader is filling
	rows int64          // rows handed to the writer
}

const (
	pipelineBatches   = 4
	pipelineBatchRows = 256
)

// rowBatch is up to pipelineBatchRows encoded rows: row i's key is
// buf[ends[i-1].value:ends[i].key] and its value buf[ends[i].key:ends[i].value].
type rowBatch struct {
	buf  []byte
	ends []rowEnds
}

type rowEnds struct{ key, value int }

// startPipeline starts the writer goroutine; every started pipeline must
// be ended with finish or abort.
func startPipeline(ctx context.Context, b *rowBuilder, fw *fileWriter) *chunkPipeline {
	p := &chunkPipeline{
		b: b, fw: fw,
		full: make(chan *rowBatch, pipelineBatches),
		free: make(chan *rowBatch, pipelineBatches),
		done: make(chan struct{}),
	}
	for range pipelineBatches {
		p.free <- &rowBatch{ends: make([]rowEnds, 0, pipelineBatchRows)}
	}
	go p.write(ctx)
	return p
}

// write is the writer goroutine: raw rows of each batch into fw, in order.
// After an error it stops taking batches (the reader sees done).
func (p *chunkPipeline) write(ctx context.Context) {
	defer close(p.done)
	for batch := range p.full {
		start := 0
		for _, e := range batch.ends {
			if err := p.fw.write(ctx, p.b.row(batch.buf[start:e.key], batch.buf[e.key:e.value])); err != nil {
				p.err = err
				return
			}
			start = e.value
		}
		batch.buf = batch.buf[:0]
		batch.ends = batch.ends[:0]
		p.free <- batch // never blocks: free holds every batch
	}
}

// add encodes one source row (values are not retained) into the current
// batch and hands the batch to the writer once it is full. An error from
// the writer or ctx is returned; the pipeline must still be ended.
func (p *chunkPipeline) add(ctx context.Context, values []any, last bool) error {
	if p.cur == nil {
		select {
		case p.cur = <-p.free:
		case <-p.done:
			return p.writerErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	buf, keyEnd, err := p.b.encode(p.cur.buf, values, last)
	if err != nil {
		return err
	}
	p.cur.buf = buf
	p.cur.ends = append(p.cur.ends, rowEnds{key: keyEnd, value: len(buf)})
	if len(p.cur.ends) < pipelineBatchRows {
		return nil
	}
	return p.send(ctx)
}

func (p *chunkPipeline) send(ctx context.Context) error {
	n := len(p.cur.ends) // the batch is the writer's once sent
	select {
	case p.full <- p.cur:
		p.rows += int64(n)
		p.cur = nil
		return nil
	case <-p.done:
		return p.writerErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writerErr is the error the writer stopped with (done is closed).
func (p *chunkPipeline) writerErr() error {
	if p.err != nil {
		return p.err
	}
	return errors.New("snapshot pipeline: writer stopped")
}

// finish hands over the last batch, waits until the writer has written
// every row and returns the number of rows, or the first error.
func (p *chunkPipeline) finish(ctx context.Context) (int64, error) {
	var err error
	if p.cur != nil && len(p.cur.ends) > 0 {
		err = p.send(ctx)
	}
	close(p.full)
	<-p.done
	if p.err != nil {
		return 0, p.err
	}
	if err != nil {
		return 0, err
	}
	return p.rows, nil
}

// abort stops the writer after the batches already handed over (at most
// pipelineBatches) and waits for it; the chunk's files are then dropped.
func (p *chunkPipeline) abort() {
	close(p.full)
	<-p.done
}
