package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// maxReplans bounds how often one run re-plans after losing commit races.
const maxReplans = 20

// Run ingests, available-now, what the matching topics hold when it starts,
// into the raw table, and returns what it did. Unparseable records go to
// deadLetters (which may be nil: such a record then fails the run). The
// tables are created on first use.
//
// Run is safe to run concurrently with itself on the same tables, in this
// or other processes: a partition two runs both read is committed by one of
// them, and the other re-plans. Killed at any point and run again, it
// writes every offset exactly once (uncommitted files are orphans, invisible
// to readers, removed by VACUUM).
//
// Errors: a wrapped ErrDeadLetterRatio, an *OffsetResetError, a wrapped
// context error, or a Kafka/storage error; the report is returned with every
// error and covers what was committed before it.
func Run(ctx context.Context, cfg Config, table, deadLetters *lakelog.Table, logger *slog.Logger) (*Report, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	rep := newReport(newBatchID(r.Now()), r.Now())
	defer func() { rep.Duration = Duration(time.Since(started)) }()
	logger = logger.With("batch_id", rep.BatchID)

	cl, err := kgo.NewClient(append(r.clientOpts(), kgo.WithLogger(kslogger(logger)))...)
	if err != nil {
		return rep, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	snap, err := openOrCreate(ctx, table, "raw", rawSchema, rawProtocol, rawClustering)
	if err != nil {
		return rep, err
	}
	rn := &runner{cfg: r, log: logger, table: table, dlTable: deadLetters, adm: adm, rep: rep,
		buf: newFileBuffer(table.Store(), r.TempDir, r.TargetFileBytes, r.MaxBufferBytes)}
	defer func() { rn.buf.discard() }()
	var last *ReadPlan
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		p, err := plan(ctx, adm, r, snap)
		rep.Stages.Plan += Duration(time.Since(t0))
		if err != nil {
			return rep, err
		}
		rn.notePlan(p, attempt == 0)
		last = p
		err = rn.read(ctx, snap, p)
		if err == nil {
			break
		}
		if !errors.Is(err, lakelog.ErrConflict) || attempt >= maxReplans {
			return rep, err
		}
		rep.Replans++
		logger.Info("lost a commit race, re-planning", "err", err)
		// The unfinished files of the lost microbatch are dropped; the
		// finished ones are orphans VACUUM removes.
		rn.buf.discard()
		rn.buf = newFileBuffer(table.Store(), r.TempDir, r.TargetFileBytes, r.MaxBufferBytes)
		if snap, err = table.Snapshot(ctx); err != nil {
			return rep, fmt.Errorf("raw table snapshot: %w", err)
		}
	}
	rn.measureLag(ctx, last)
	logger.Info("ingest run done", "records", rep.Records, "dead_letters", rep.DeadLetters,
		"files", len(rep.Files), "version", rep.CommitVersion, "lag", rep.Lag)
	return rep, nil
}

// RunContinuous calls Run every interval (measured from the start of one run
// to the start of the next) until ctx is done or a run fails; onReport, if
// not nil, sees every report. It returns the context's error after a clean
// stop.
func RunContinuous(ctx context.Context, cfg Config, table, deadLetters *lakelog.Table, logger *slog.Logger, interval time.Duration, onReport func(*Report)) error {
	for {
		start := time.Now()
		rep, err := Run(ctx, cfg, table, deadLetters, logger)
		if onReport != nil && rep != nil {
			onReport(rep)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		t := time.NewTimer(time.Until(start.Add(interval)))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func newBatchID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

type topicPartition struct {
	topic     string
	partition int32
}

// partState follows one partition through a read.
type partState struct {
	tp       topicPartition
	next     int64 // next offset expected
	end      int64 // one past the last offset to read
	last     int64 // last offset covered in the current microbatch, -1 none
	logStart int64
	// deadCommitted is the dead-letter table's txn version, -1 none.
	deadCommitted int64
	deadInBatch   bool
	topicID       string // the broker's, "" when it has none
}

func (p *partState) done() bool { return p.next >= p.end }

// runner carries one Run's state across re-plans and microbatches.
type runner struct {
	cfg     *resolved
	log     *slog.Logger
	table   *lakelog.Table
	dlTable *lakelog.Table
	adm     *kadm.Client
	rep     *Report
	buf     *fileBuffer

	fetched       []acceptedRow // reused per fetch
	seq           int           // microbatches started
	records, dead int64         // run totals (dead includes letters already stored by an earlier try)
	dlSnap        *lakelog.Snapshot
}

// microbatch is what will go into one raw commit.
type microbatch struct {
	id       string
	ingestTS time.Time
	deadline time.Time
	files    []*lakelog.Add
	reports  []FileReport
	rows     map[string]int64
	bytes    map[string]int64
	dead     []deadLetter
	deadSize int64
	dlFiles  []*lakelog.Add
	dlRep    []FileReport
	dlCount  map[string]int64
}

func (rn *runner) newMicrobatch() *microbatch {
	rn.seq++
	now := rn.cfg.Now()
	mb := &microbatch{
		id:       fmt.Sprintf("%s-%d", rn.rep.BatchID, rn.seq),
		ingestTS: now.UTC().Truncate(time.Microsecond),
		deadline: time.Now().Add(rn.cfg.MaxBatchAge),
		rows:     map[string]int64{},
		bytes:    map[string]int64{},
		dlCount:  map[string]int64{},
	}
	rn.buf.begin(mb.ingestTS, mb.id)
	return mb
}

func (rn *runner) notePlan(p *ReadPlan, first bool) {
	for _, pp := range p.Partitions {
		pr := rn.rep.partition(pp.Topic, pp.Partition)
		if first {
			pr.Start, pr.End = pp.Start, pp.End
		}
		pr.Committed = pp.Committed
		pr.Reset = pr.Reset || pp.Reset
	}
}

// read consumes the plan's offsets and commits them in microbatches. An
// error wrapping lakelog.ErrConflict means another process committed one
// of the partitions first: the caller re-plans.
func (rn *runner) read(ctx context.Context, snap *lakelog.Snapshot, p *ReadPlan) error {
	parts := make(map[topicPartition]*partState)
	offsets := make(map[string]map[int32]kgo.Offset)
	for _, pp := range p.Partitions {
		if pp.Pending() <= 0 {
			continue
		}
		tp := topicPartition{pp.Topic, pp.Partition}
		parts[tp] = &partState{tp: tp, next: pp.Start, end: pp.End, last: -1, logStart: pp.LogStart, deadCommitted: -1, topicID: pp.TopicID}
		if offsets[pp.Topic] == nil {
			offsets[pp.Topic] = make(map[int32]kgo.Offset)
		}
		offsets[pp.Topic][pp.Partition] = kgo.NewOffset().At(pp.Start)
	}
	if len(parts) == 0 {
		return nil
	}
	if err := rn.loadDeadLetterVersions(ctx, parts); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(rn.cfg.clientOpts(),
		kgo.WithLogger(kslogger(rn.log)),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) occupy offsets; seeing
		// them tells us a partition reached its end.
		kgo.KeepControlRecords(),
		// Never jump silently: a planned offset that vanished is an error.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		// Part of the memory bound (see Config.FetchMaxBytes): franz-go
		// buffers at most one fetch response per broker until polled.
		kgo.FetchMaxBytes(int32(rn.cfg.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(min(rn.cfg.FetchMaxBytes, 4<<20))),
	)...)
	if err != nil {
		return fmt.Errorf("kafka consumer: %w", err)
	}
	defer cl.Close()

	remaining := len(parts)
	mb := rn.newMicrobatch()
	lastProgress := time.Now()
	for remaining > 0 {
		wait := min(rn.cfg.ReadTimeout, max(time.Until(mb.deadline), 10*time.Millisecond))
		pollCtx, cancel := context.WithTimeout(ctx, wait)
		t0 := time.Now()
		fetches := cl.PollFetches(pollCtx)
		cancel()
		rn.rep.Stages.Fetch += Duration(time.Since(t0))
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			if errors.Is(fe.Err, kerr.OffsetOutOfRange) {
				ps := parts[topicPartition{fe.Topic, fe.Partition}]
				return fmt.Errorf("topic %s partition %d: offset %d out of range while reading (records deleted since planning?): %w", fe.Topic, fe.Partition, ps.nextOr(-1), fe.Err)
			}
			return fmt.Errorf("fetch topic %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		t0 = time.Now()
		var finished map[string][]int32
		accepted := rn.fetched[:0]
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			ps := parts[topicPartition{fp.Topic, fp.Partition}]
			if ps == nil || ps.done() {
				return
			}
			for _, rec := range fp.Records {
				if rec.Offset < ps.next {
					continue
				}
				if rec.Offset >= ps.end {
					// Offsets are delivered in order: nothing is left
					// below end (compacted away).
					ps.last, ps.next = ps.end-1, ps.end
					break
				}
				ps.last, ps.next = rec.Offset, rec.Offset+1
				lastProgress = t0
				if rec.Attrs.IsControl() {
					continue
				}
				if rr, ok := rn.accept(mb, ps, rec); ok {
					accepted = append(accepted, acceptedRow{topic: fp.Topic, rec: rr})
				}
			}
			if ps.done() {
				remaining--
				if finished == nil {
					finished = make(map[string][]int32)
				}
				finished[fp.Topic] = append(finished[fp.Topic], fp.Partition)
			}
		})
		rn.rep.Stages.Parse += Duration(time.Since(t0))
		// The rows are encoded (or copied) now, while the fetch buffers
		// they point into are alive; nothing keeps those buffers after.
		if err := rn.buffer(ctx, mb, accepted); err != nil {
			return err
		}
		clear(accepted)
		rn.fetched = accepted[:0]
		if finished != nil {
			cl.PauseFetchPartitions(finished)
		}
		if remaining > 0 && time.Since(lastProgress) >= rn.cfg.ReadTimeout {
			return fmt.Errorf("read: no record for %v with offsets still to read (first: %s)", rn.cfg.ReadTimeout, firstPending(parts))
		}
		if remaining > 0 && time.Now().After(mb.deadline) {
			if snap, err = rn.commit(ctx, snap, mb, parts); err != nil {
				return err
			}
			mb = rn.newMicrobatch()
		}
	}
	_, err = rn.commit(ctx, snap, mb, parts)
	return err
}

func (p *partState) nextOr(def int64) int64 {
	if p == nil {
		return def
	}
	return p.next
}

func firstPending(parts map[topicPartition]*partState) string {
	for _, ps := range parts {
		if !ps.done() {
			return fmt.Sprintf("topic %s partition %d at %d of %d", ps.tp.topic, ps.tp.partition, ps.next, ps.end)
		}
	}
	return "none"
}

// acceptedRow is a parsed record of the current fetch, waiting to be
// buffered.
type acceptedRow struct {
	topic string
	rec   rawRecord
}

// accept parses one data record. It returns the row to buffer, or false
// for a dead letter (kept, copied, in the microbatch) or a record that is
// skipped (a heartbeat or transaction record, unless configured).
func (rn *runner) accept(mb *microbatch, ps *partState, rec *kgo.Record) (rawRecord, bool) {
	rr, kind, err := newRawRecord(rec)
	rn.records++
	if err != nil {
		rn.dead++
		mb.dlCount[ps.tp.topic]++
		if rec.Offset <= ps.deadCommitted {
			return rawRecord{}, false // stored by an earlier try of this microbatch
		}
		ps.deadInBatch = true
		dl := deadLetter{topic: ps.tp.topic, rec: rr.clone(), err: err.Error()}
		mb.dead = append(mb.dead, dl)
		mb.deadSize += rr.size()
		return rawRecord{}, false
	}
	if (kind == schemas.KindHeartbeat || kind == schemas.KindTransaction) && !rn.cfg.IncludeHeartbeats {
		return rawRecord{}, false
	}
	mb.rows[ps.tp.topic]++
	mb.bytes[ps.tp.topic] += int64(len(rr.key) + len(rr.value))
	return rr, true
}

// buffer hands one fetch's rows to the file buffer, which writes the files
// that are due: full ones, and more when memory reaches the limit.
func (rn *runner) buffer(ctx context.Context, mb *microbatch, rows []acceptedRow) error {
	t0 := time.Now()
	defer func() { rn.rep.Stages.Write += Duration(time.Since(t0)) }()
	for i := range rows {
		if err := rn.buf.add(ctx, rows[i].topic, &rows[i].rec); err != nil {
			return err
		}
	}
	mb.addFiles(rn.buf.takeDone())
	if mb.deadSize >= min(rn.cfg.TargetFileBytes, rn.cfg.MaxBufferBytes/4) {
		return rn.writeDeadLetters(ctx, mb)
	}
	return nil
}

func (mb *microbatch) addFiles(ws []written) {
	for _, w := range ws {
		mb.files = append(mb.files, w.add)
		mb.reports = append(mb.reports, FileReport{Path: w.add.Path, Rows: w.rows, Bytes: w.add.Size})
	}
}

func (rn *runner) writeDeadLetters(ctx context.Context, mb *microbatch) error {
	if len(mb.dead) == 0 {
		return nil
	}
	if rn.dlTable == nil {
		d := mb.dead[0]
		return fmt.Errorf("topic %s partition %d offset %d: %s: %w (no dead-letter table configured)", d.topic, d.rec.partition, d.rec.offset, d.err, ErrDeadLetterRatio)
	}
	add, err := writeDeadLetterFile(ctx, rn.dlTable.Store(), mb.dead, mb.ingestTS, mb.id)
	if err != nil {
		return err
	}
	mb.dlFiles = append(mb.dlFiles, add)
	mb.dlRep = append(mb.dlRep, FileReport{Path: add.Path, Rows: int64(len(mb.dead)), Bytes: add.Size})
	mb.dead, mb.deadSize = nil, 0
	return nil
}

// loadDeadLetterVersions reads the dead-letter table's txn versions, so that
// dead letters a failed earlier try already committed are not repeated.
func (rn *runner) loadDeadLetterVersions(ctx context.Context, parts map[topicPartition]*partState) error {
	if rn.dlTable == nil {
		return nil
	}
	snap, err := rn.dlTable.Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		rn.dlSnap = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("dead-letter table snapshot: %w", err)
	}
	rn.dlSnap = snap
	for tp, ps := range parts {
		if v, ok := snap.AppVersion(schemas.IngestAppID(tp.topic, tp.partition)); ok && v >= ps.next {
			ps.deadCommitted = v
		}
	}
	return nil
}

// checkDeadLetterRatio fails the run when dead letters exceed the ratio.
func (rn *runner) checkDeadLetterRatio() error {
	if rn.dead == 0 {
		return nil
	}
	ratio := rn.cfg.MaxDeadLetterRatio
	if ratio < 0 || float64(rn.dead) > ratio*float64(rn.records) {
		return fmt.Errorf("%d of %d records are dead letters (max ratio %v): %w", rn.dead, rn.records, max(ratio, 0), ErrDeadLetterRatio)
	}
	return nil
}
