package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadPosition returns the last position capture committed for source in
// positionsTopic, or "" when it stored none, including when the topic does
// not exist (capture never ran). It is read-only: it creates no topic,
// uses no transactional id (so the running capture is never fenced) and
// reads with read_committed isolation, so an aborted transaction's position
// is never seen. For status and checks; safe for concurrent use.
func ReadPosition(ctx context.Context, kafka KafkaConfig, positionsTopic, source string, logger *slog.Logger) (string, error) {
	if positionsTopic == "" || source == "" {
		return "", errors.New("read position: positions topic and source name are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts, err := kafka.clientOpts(logger)
	if err != nil {
		return "", err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// A metadata request for the one topic, never auto-creating it.
	topics, err := adm.ListTopics(ctx, positionsTopic)
	if err != nil {
		return "", fmt.Errorf("kafka: list %s: %w", positionsTopic, err)
	}
	if !topics.Has(positionsTopic) {
		return "", nil
	}
	return lastPosition(ctx, adm, kafka, positionsTopic, source, logger)
}

// lastPosition reads topic from its start to its last stable offset with
// read_committed isolation and returns the value of source's newest
// position record, "" when it has none.
func lastPosition(ctx context.Context, adm *kadm.Client, kafka KafkaConfig, topic, source string, logger *slog.Logger) (string, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return "", fmt.Errorf("kafka: end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return "", fmt.Errorf("kafka: end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return "", nil
	}
	opts, err := kafka.clientOpts(logger)
	if err != nil {
		return "", err
	}
	opts = append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Commit markers are the last offsets below the stable offset;
		// seeing them is how we know we reached it.
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	var last positionRecord
	var lastOffset int64 = -1
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return "", err
		}
		var ferr error
		fs.EachError(func(t string, part int32, err error) { ferr = fmt.Errorf("kafka: read %s/%d: %w", t, part, err) })
		if ferr != nil {
			return "", ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() || string(r.Key) != source || r.Offset < lastOffset {
				return
			}
			var pr positionRecord
			if err := json.Unmarshal(r.Value, &pr); err != nil {
				ferr = fmt.Errorf("kafka: position record %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			last, lastOffset = pr, r.Offset
		})
		if ferr != nil {
			return "", ferr
		}
	}
	return last.Position, nil
}
