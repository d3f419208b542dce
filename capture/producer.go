package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/schemas"
)

// Config configures the Kafka side of a capture.
type Config struct {
	Kafka KafkaConfig
	// SourceName identifies the capture: its key in the positions topic and
	// the base of its transactional id. Two captures must never share it.
	SourceName string
	// TopicPrefix names the topics: <prefix>.<schema or db>.<table>.
	TopicPrefix string
	// PositionsTopic holds the source positions, compacted, keyed by
	// SourceName. Default "<TopicPrefix>.sluice.positions".
	PositionsTopic string
	// TransactionalID defaults to "sluice-capture-<SourceName>".
	TransactionalID string
	// AtLeastOnce turns Kafka transactions off: events and the position are
	// produced idempotently and the source is acked after they are flushed.
	// After a crash the batches since the last stored position are produced
	// again, byte-identical (same key, value and timestamp), so consumers
	// that order by the event's ordering key see no difference.
	AtLeastOnce bool
	// WithSchema wraps keys and values as {"schema":…,"payload":…}
	// (JsonConverter schemas.enable=true).
	WithSchema bool
	// AutoCreateTopics lets the producer create missing table topics with
	// the broker's defaults (the broker must allow it too:
	// auto.create.topics.enable). Otherwise topics must exist beforehand and
	// producing to a missing one fails the transaction.
	AutoCreateTopics bool
	// TombstonesOnDelete adds a null-value record after each delete, as
	// Debezium's tombstones.on.delete does, for log-compacted topics.
	TombstonesOnDelete bool
	// MaxTxnRecords bounds the records in one Kafka transaction; batches are
	// grouped up to it when the source is ahead. Default 10000. A single
	// larger source transaction still goes in one Kafka transaction.
	MaxTxnRecords int
	// TransactionTimeout is the broker-side transaction timeout. Default 60s.
	TransactionTimeout time.Duration
	// Stats, when not nil, is updated after every Kafka commit (see Stats).
	Stats *Stats
}

func (c Config) withDefaults() (Config, error) {
	if c.SourceName == "" {
		return c, errors.New("capture config: SourceName is empty")
	}
	if c.TopicPrefix == "" {
		return c, errors.New("capture config: TopicPrefix is empty")
	}
	if c.PositionsTopic == "" {
		c.PositionsTopic = c.TopicPrefix + ".sluice.positions"
	}
	if c.TransactionalID == "" {
		c.TransactionalID = "sluice-capture-" + c.SourceName
	}
	if c.MaxTxnRecords <= 0 {
		c.MaxTxnRecords = 10000
	}
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = 60 * time.Second
	}
	return c, nil
}

// Producer writes change batches and the source position to Kafka, in one
// transaction per Write (or idempotently, with Config.AtLeastOnce). Not safe
// for concurrent use.
type Producer struct {
	cfg    Config
	logger *slog.Logger
	cl     *kgo.Client
	adm    *kadm.Client
}

// positionRecord is the value stored in the positions topic.
type positionRecord struct {
	Position   string `json:"position"`
	CommitTsMs int64  `json:"commit_ts_ms"`
}

// NewProducer connects, makes sure the positions topic exists (compacted,
// one partition) and, with transactions, fences any earlier producer with
// the same transactional id, which aborts its unfinished transaction.
func NewProducer(ctx context.Context, cfg Config, logger *slog.Logger) (*Producer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts, err := cfg.Kafka.clientOpts(logger)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Kafka's default partitioner (murmur2 of the key): one key, one
		// partition, the same one Debezium/Kafka Connect would pick.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
	)
	if !cfg.AtLeastOnce {
		opts = append(opts, kgo.TransactionalID(cfg.TransactionalID), kgo.TransactionTimeout(cfg.TransactionTimeout))
	}
	if cfg.AutoCreateTopics {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	p := &Producer{cfg: cfg, logger: logger, cl: cl, adm: kadm.NewClient(cl)}
	if err := p.ensurePositionsTopic(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka: init producer id: %w", err)
	}
	return p, nil
}

// ensurePositionsTopic creates the positions topic when it is missing. A
// cluster that refuses the creation (no CREATE permission, no controller)
// must not stop a capture whose topic already exists, so a refusal is
// followed by a lookup. Not the other way round: a lookup of a missing
// topic leaves "unknown topic" in the client's metadata, and LastPosition
// right after the creation would fail on it.
func (p *Producer) ensurePositionsTopic(ctx context.Context) error {
	compact := "compact"
	resp, err := p.adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, p.cfg.PositionsTopic)
	if err == nil {
		err = resp.Err
	}
	if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	req := kmsg.NewPtrMetadataRequest() // AllowAutoTopicCreation stays false
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(p.cfg.PositionsTopic)
	req.Topics = append(req.Topics, rt)
	if m, merr := req.RequestWith(ctx, p.cl); merr == nil && len(m.Topics) == 1 && m.Topics[0].ErrorCode == 0 {
		p.logger.Debug("capture: positions topic exists; its creation was refused", "topic", p.cfg.PositionsTopic, "err", err)
		return nil
	}
	return fmt.Errorf("kafka: create positions topic %s: %w", p.cfg.PositionsTopic, err)
}

// LastPosition returns the last committed position of this source, or ""
// when none was ever stored. It reads the positions topic with
// read_committed isolation, so an aborted transaction's position is never
// seen.
func (p *Producer) LastPosition(ctx context.Context) (string, error) {
	return lastPosition(ctx, p.adm, p.cfg.Kafka, p.cfg.PositionsTopic, p.cfg.SourceName, p.logger)
}

// Write produces every change of the batches to its table's topic and the
// last batch's position to the positions topic, in one Kafka transaction
// (one idempotent flush with AtLeastOnce). It returns only when all of it is
// committed, or after aborting the transaction. After an error the Producer
// must be closed and a new one made: the caller resumes from LastPosition.
func (p *Producer) Write(ctx context.Context, batches []Batch) error {
	if len(batches) == 0 {
		return nil
	}
	last := batches[len(batches)-1]
	if last.Partial {
		return errors.New("write ending at a partial batch (its source transaction is not complete)")
	}
	if err := p.Begin(); err != nil {
		return err
	}
	// One flush for the events and the position together.
	if err := p.produceAll(ctx, batches, &last); err != nil {
		return p.abort(ctx, err)
	}
	return p.end(ctx)
}

// Begin opens a Kafka transaction (nothing with AtLeastOnce). Produce and
// Commit follow; Write is the three in one. Begin, Produce and Commit let a
// source transaction that comes in several Partial batches go out in one
// Kafka transaction while memory holds one batch at a time.
func (p *Producer) Begin() error {
	if p.cfg.AtLeastOnce {
		return nil
	}
	if err := p.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka: begin transaction: %w", err)
	}
	return nil
}

// Produce writes the changes of batches in the open transaction and waits
// until the broker has them (not yet committed). On error the transaction
// has been aborted and the Producer must be closed.
func (p *Producer) Produce(ctx context.Context, batches []Batch) error {
	if err := p.produceAll(ctx, batches, nil); err != nil {
		return p.abort(ctx, err)
	}
	return nil
}

// Commit writes last's changes and position and commits the transaction
// (with AtLeastOnce: flushes). On error the transaction has been aborted and the
// Producer must be closed.
func (p *Producer) Commit(ctx context.Context, last Batch) error {
	if last.Partial {
		return p.abort(ctx, errors.New("commit at a partial batch (its source transaction is not complete)"))
	}
	if err := p.produceAll(ctx, []Batch{last}, &last); err != nil {
		return p.abort(ctx, err)
	}
	return p.end(ctx)
}

// end commits the open transaction (nothing with AtLeastOnce).
func (p *Producer) end(ctx context.Context) error {
	if p.cfg.AtLeastOnce {
		return nil
	}
	endCtx, cancel := p.endContext(ctx)
	defer cancel()
	if err := p.cl.EndTransaction(endCtx, kgo.TryCommit); err != nil {
		return fmt.Errorf("kafka: commit transaction: %w", err)
	}
	return nil
}

// endContext bounds ending a transaction, which must finish even when ctx
// was cancelled: an unfinished one blocks read_committed readers until it
// times out.
func (p *Producer) endContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TransactionTimeout)
}

// abort aborts the open transaction after err and returns err (joined with
// any abort failure). Idempotent: aborting with no transaction open is a
// no-op for franz-go.
func (p *Producer) abort(ctx context.Context, err error) error {
	if p.cfg.AtLeastOnce {
		return err
	}
	endCtx, cancel := p.endContext(ctx)
	defer cancel()
	if aerr := p.cl.AbortBufferedRecords(endCtx); aerr != nil {
		return errors.Join(err, fmt.Errorf("kafka: abort buffered records: %w", aerr))
	}
	if aerr := p.cl.EndTransaction(endCtx, kgo.TryAbort); aerr != nil {
		return errors.Join(err, fmt.Errorf("kafka: abort transaction: %w", aerr))
	}
	return err
}

// produceAll produces the changes of batches and, when position is not nil,
// its position record, then flushes.
func (p *Producer) produceAll(ctx context.Context, batches []Batch, position *Batch) error {
	var (
		mu       sync.Mutex
		firstErr error
	)
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("kafka: produce to %s: %w", r.Topic, err)
			}
			mu.Unlock()
		}
	}
	for bi := range batches {
		for ci := range batches[bi].Changes {
			c := &batches[bi].Changes[ci]
			recs, err := p.records(c)
			if err != nil {
				return err
			}
			for _, r := range recs {
				p.cl.Produce(ctx, r, promise)
			}
		}
	}
	if position != nil {
		val, err := json.Marshal(positionRecord{Position: position.Position, CommitTsMs: position.CommitTsMs})
		if err != nil {
			return fmt.Errorf("encode position: %w", err)
		}
		p.cl.Produce(ctx, &kgo.Record{Topic: p.cfg.PositionsTopic, Key: []byte(p.cfg.SourceName), Value: val}, promise)
	}
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka: flush: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return firstErr
}

// records encodes one change as its Kafka record(s).
func (p *Producer) records(c *schemas.Change) ([]*kgo.Record, error) {
	key, err := schemas.EncodeKey(c, p.cfg.WithSchema)
	if err != nil {
		return nil, fmt.Errorf("encode key of %s change in %s: %w", c.Op, c.Table, err)
	}
	val, err := schemas.EncodeValue(c, p.cfg.WithSchema)
	if err != nil {
		return nil, fmt.Errorf("encode %s change in %s: %w", c.Op, c.Table, err)
	}
	topic := c.Table.Topic(p.cfg.TopicPrefix)
	// The commit time, not the wall clock: a replay is byte-identical.
	ts := time.UnixMilli(c.Source.TsMs)
	recs := []*kgo.Record{{Topic: topic, Key: key, Value: val, Timestamp: ts}}
	if c.Op == schemas.OpDelete && p.cfg.TombstonesOnDelete && key != nil {
		recs = append(recs, &kgo.Record{Topic: topic, Key: key, Timestamp: ts})
	}
	return recs, nil
}

// Close flushes nothing and releases the client. An open transaction is
// aborted by the broker (or fenced by the next producer).
func (p *Producer) Close() { p.cl.Close() }
