package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// PartitionPlan is what a run reads from one partition: offsets [Start, End).
type PartitionPlan struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Start is the first offset to read: Committed+1, or LogStart when the
	// raw table has no txn for the partition (or after a restart).
	Start int64 `json:"start"`
	// End is one past the last offset to read: the last stable offset when
	// planned, lowered by Config.MaxRecordsPerRun.
	End int64 `json:"end"`
	// Committed is the raw table's txn version (last offset written), -1
	// when there is none.
	Committed int64 `json:"committed"`
	LogStart  int64 `json:"log_start"`
	// StableEnd is the partition's last stable offset (the high watermark
	// for non-transactional producers) when planned.
	StableEnd int64 `json:"stable_end"`
	// Reset is set when OffsetResetRestart sent the partition back to its
	// log start.
	Reset bool `json:"reset,omitempty"`
	// TopicID is the broker's topic ID (base64; "" when the broker has
	// none), which the first commit covering the partition records.
	TopicID string `json:"topic_id,omitempty"`
}

// Pending is the number of offsets the plan reads from the partition.
func (p PartitionPlan) Pending() int64 { return p.End - p.Start }

// ReadPlan is what a run would read, per partition; making one writes nothing.
type ReadPlan struct {
	// TableVersion is the raw table version the plan was made from, -1
	// when the table does not exist yet.
	TableVersion int64 `json:"table_version"`
	// Partitions lists this worker's partitions of the matching topics,
	// sorted by topic and partition, including those with nothing to read.
	Partitions []PartitionPlan `json:"partitions"`
}

// Pending is the number of offsets the plan reads.
func (p *ReadPlan) Pending() int64 {
	var n int64
	for _, pp := range p.Partitions {
		n += pp.Pending()
	}
	return n
}

// OffsetResetError reports a partition whose recorded offset does not fit
// the partition any more: the topic was deleted and recreated (Committed+1
// beyond the end), or records were deleted by retention before they were
// ingested (Committed+1 below the log start).
//
// With OffsetResetRestart the partition is read again from LogStart and its
// txn version moves backwards. Delta treats a txn version as an opaque value
// whose latest write wins (Spark only compares it to skip a batch it already
// wrote), so a lower version is legal; sluice's merge orders rows by ordering
// key, not offset, so the re-read offsets of the new topic cannot be mistaken
// for the old ones. Offsets alone cannot detect a recreated topic that
// already holds more records than were ingested from the old one: the raw
// table also records the Kafka topic ID of each partition's offsets
// (topicid.go), and a different ID at plan time is reported the same way
// (RecordedTopicID set).
type OffsetResetError struct {
	Topic     string
	Partition int32
	Committed int64 // txn version in the raw table
	LogStart  int64
	End       int64 // last stable offset
	// RecordedTopicID and TopicID are set when the topic's ID changed
	// (deleted and recreated) whatever the offsets.
	RecordedTopicID, TopicID string
}

func (e *OffsetResetError) Error() string {
	why := "below the log start (records deleted before ingest)"
	if e.RecordedTopicID != "" {
		why = fmt.Sprintf("from topic ID %s, the topic now has ID %s (recreated)", e.RecordedTopicID, e.TopicID)
	} else if e.Committed+1 > e.End {
		why = "beyond the end (topic recreated?)"
	}
	return fmt.Sprintf("topic %s partition %d: recorded offset %d is %s: log start %d, end %d; set on-offset-reset=restart to re-read it from the start",
		e.Topic, e.Partition, e.Committed, why, e.LogStart, e.End)
}

// Plan returns what Run would read now, per partition. It writes nothing:
// neither the table nor the consumer group.
func Plan(ctx context.Context, cfg Config, table *lakelog.Table, logger *slog.Logger) (*ReadPlan, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(r.clientOpts(), kgo.WithLogger(kslogger(logger)))...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	snap, err := table.Snapshot(ctx)
	if err != nil && !errors.Is(err, lakelog.ErrNoTable) {
		return nil, fmt.Errorf("raw table snapshot: %w", err)
	}
	return plan(ctx, kadm.NewClient(cl), r, snap)
}

// plan builds the plan from the raw table snapshot (nil when there is no
// table yet).
func plan(ctx context.Context, adm *kadm.Client, r *resolved, snap *lakelog.Snapshot) (*ReadPlan, error) {
	p := &ReadPlan{TableVersion: -1}
	if snap != nil {
		p.TableVersion = snap.Version()
	}
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var topics []string
	for name, d := range details {
		if d.Err != nil || d.IsInternal || !r.wantsTopic(name) {
			continue
		}
		topics = append(topics, name)
	}
	if len(topics) == 0 {
		return p, nil
	}
	slices.Sort(topics)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	// The last stable offset, not the high watermark: records of open
	// transactions above it may still abort, and we read committed only.
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	for _, topic := range topics {
		id := brokerTopicID(details[topic])
		for part := range details[topic].Partitions {
			recorded := recordedTopicID(snap, topic, part)
			recreated := id != "" && recorded != "" && id != recorded
			if !r.ownsPartition(topic, part) {
				continue
			}
			s, okS := starts.Lookup(topic, part)
			e, okE := ends.Lookup(topic, part)
			if !okS || !okE {
				return nil, fmt.Errorf("topic %s partition %d: no offsets listed", topic, part)
			}
			if s.Err != nil {
				return nil, fmt.Errorf("topic %s partition %d: start offset: %w", topic, part, s.Err)
			}
			if e.Err != nil {
				return nil, fmt.Errorf("topic %s partition %d: end offset: %w", topic, part, e.Err)
			}
			pp := PartitionPlan{Topic: topic, Partition: part, Committed: -1, LogStart: s.Offset, StableEnd: e.Offset, Start: s.Offset, End: e.Offset, TopicID: id}
			if snap != nil {
				if v, ok := snap.AppVersion(schemas.IngestAppID(topic, part)); ok {
					pp.Committed = v
					pp.Start = v + 1
				}
			}
			if pp.Start < pp.LogStart || pp.Start > pp.StableEnd || (recreated && pp.Committed >= 0) {
				if r.OnOffsetReset != OffsetResetRestart {
					oe := &OffsetResetError{Topic: topic, Partition: part, Committed: pp.Committed, LogStart: pp.LogStart, End: pp.StableEnd}
					if recreated {
						oe.RecordedTopicID, oe.TopicID = recorded, id
					}
					return nil, oe
				}
				pp.Start, pp.Reset = pp.LogStart, true
			}
			p.Partitions = append(p.Partitions, pp)
		}
	}
	slices.SortFunc(p.Partitions, func(a, b PartitionPlan) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	if budget := r.MaxRecordsPerRun; budget > 0 {
		for i := range p.Partitions {
			pp := &p.Partitions[i]
			n := min(pp.Pending(), budget)
			pp.End = pp.Start + n
			budget -= n
		}
	}
	return p, nil
}
