package ingest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// commit ends a microbatch: it writes the buffered rows, commits the dead
// letters to the dead-letter table, then the files and one txn per covered
// partition to the raw table, and finally tells the consumer group. It
// returns the snapshot at the new version, which the next microbatch must
// begin from so that a concurrent commit on one of its partitions in
// between is detected as a conflict.
func (rn *runner) commit(ctx context.Context, snap *lakelog.Snapshot, mb *microbatch, parts map[topicPartition]*partState) (*lakelog.Snapshot, error) {
	t0 := time.Now()
	ws, err := rn.buf.flushAll(ctx)
	if err != nil {
		return nil, err
	}
	mb.addFiles(ws)
	if err := rn.writeDeadLetters(ctx, mb); err != nil {
		return nil, err
	}
	rn.rep.Stages.Write += Duration(time.Since(t0))
	if err := rn.checkDeadLetterRatio(); err != nil {
		return nil, err
	}

	t0 = time.Now()
	defer func() { rn.rep.Stages.Commit += Duration(time.Since(t0)) }()
	covered := make([]*partState, 0, len(parts))
	for _, ps := range parts {
		if ps.last >= 0 {
			covered = append(covered, ps)
		}
	}
	slices.SortFunc(covered, func(a, b *partState) int {
		if a.tp.topic != b.tp.topic {
			if a.tp.topic < b.tp.topic {
				return -1
			}
			return 1
		}
		return int(a.tp.partition) - int(b.tp.partition)
	})
	if len(covered) == 0 {
		return snap, nil
	}

	// Dead letters first: once the raw commit moves past an offset, a
	// crash must not be able to lose the dead letter below it.
	if len(mb.dlFiles) > 0 {
		if err := rn.commitDeadLetters(ctx, mb, covered); err != nil {
			return nil, err
		}
	}

	tx := snap.Begin("WRITE")
	tx.Add(mb.files...)
	var rows int64
	for _, n := range mb.rows {
		rows += n
	}
	for _, ps := range covered {
		tx.SetAppVersion(schemas.IngestAppID(ps.tp.topic, ps.tp.partition), ps.last)
		if ps.topicID != "" && ps.topicID != recordedTopicID(snap, ps.tp.topic, ps.tp.partition) {
			tx.SetDomain(topicIDDomainFor(ps.tp.topic, ps.tp.partition, ps.topicID))
		}
	}
	tx.SetOperationParameters(map[string]any{"mode": "Append", "batchId": mb.id})
	tx.SetOperationMetrics(map[string]any{"numFiles": len(mb.files), "numOutputRows": rows})
	v, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("raw commit of batch %s: %w", mb.id, err)
	}
	rn.log.Info("raw commit", "version", v, "files", len(mb.files), "rows", rows, "partitions", len(covered))
	next, err := rn.table.SnapshotAt(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("raw table snapshot at %d: %w", v, err)
	}

	rep := rn.rep
	rep.Commits = append(rep.Commits, v)
	rep.CommitVersion = v
	rep.Files = append(rep.Files, mb.reports...)
	rep.DeadLetterFiles = append(rep.DeadLetterFiles, mb.dlRep...)
	for topic, n := range mb.rows {
		tr := rep.topic(topic)
		tr.Records += n
		tr.Bytes += mb.bytes[topic]
		rep.Records += n
		rep.Bytes += mb.bytes[topic]
	}
	for topic, n := range mb.dlCount {
		rep.topic(topic).DeadLetters += n
		rep.DeadLetters += n
	}
	offs := make(kadm.Offsets)
	for _, ps := range covered {
		rep.partition(ps.tp.topic, ps.tp.partition).Committed = ps.last
		offs.Add(kadm.Offset{Topic: ps.tp.topic, Partition: ps.tp.partition, At: ps.last + 1, LeaderEpoch: -1})
		ps.last = -1
		ps.deadInBatch = false
	}
	// For lag tools only: the lake holds the truth, so a failure here is
	// logged and the next commit repairs it.
	resp, err := rn.adm.CommitOffsets(ctx, rn.cfg.GroupID, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		rn.log.Warn("commit offsets to consumer group", "group", rn.cfg.GroupID, "err", err)
	}
	return next, nil
}

func (rn *runner) commitDeadLetters(ctx context.Context, mb *microbatch, covered []*partState) error {
	snap := rn.dlSnap
	if snap == nil {
		var err error
		if snap, err = openOrCreate(ctx, rn.dlTable, "dead-letter", deadLetterSchema, deadLetterProtocol); err != nil {
			return err
		}
	}
	tx := snap.Begin("WRITE")
	tx.Add(mb.dlFiles...)
	for _, ps := range covered {
		if ps.deadInBatch {
			tx.SetAppVersion(schemas.IngestAppID(ps.tp.topic, ps.tp.partition), ps.last)
		}
	}
	tx.SetOperationParameters(map[string]any{"mode": "Append", "batchId": mb.id})
	v, err := tx.Commit(ctx)
	if err != nil {
		return fmt.Errorf("dead-letter commit of batch %s: %w", mb.id, err)
	}
	rn.rep.DeadLetterCommits = append(rn.rep.DeadLetterCommits, v)
	if rn.dlSnap, err = rn.dlTable.SnapshotAt(ctx, v); err != nil {
		return fmt.Errorf("dead-letter table snapshot at %d: %w", v, err)
	}
	for _, ps := range covered {
		if ps.deadInBatch {
			ps.deadCommitted = ps.last
		}
	}
	return nil
}

// measureLag fills in the lag after the run: each partition's end now minus
// the next offset the lake expects.
func (rn *runner) measureLag(ctx context.Context, p *ReadPlan) {
	if p == nil || len(p.Partitions) == 0 {
		rn.rep.Lag = 0
		return
	}
	topics := make([]string, 0, len(rn.rep.Topics))
	for t := range rn.rep.Topics {
		topics = append(topics, t)
	}
	ends, err := rn.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		rn.log.Warn("measure lag", "err", err)
		return
	}
	var total int64
	for _, pp := range p.Partitions {
		pr := rn.rep.partition(pp.Topic, pp.Partition)
		e, ok := ends.Lookup(pp.Topic, pp.Partition)
		if !ok || e.Err != nil {
			continue
		}
		next := max(pr.Committed+1, pp.LogStart)
		pr.Lag = max(e.Offset-next, 0)
		total += pr.Lag
	}
	rn.rep.Lag = total
}
