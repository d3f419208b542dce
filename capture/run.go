package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Run captures src into Kafka until ctx is cancelled (then it returns nil)
// or an error occurs. It reads the last committed position from the
// positions topic, streams from it, and for each group of batches writes
// the events and the new position in one Kafka transaction; only after the
// commit does it Ack the position to the source. A Kafka error aborts the
// transaction and ends Run: run it again with a new Source (RunWithRestarts
// does) and it resumes from the last committed position, so every change
// reaches Kafka exactly once (read_committed).
//
// Run does not close src.
func Run(ctx context.Context, src Source, cfg Config, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p, err := NewProducer(ctx, cfg, logger)
	if err != nil {
		return quiet(ctx, err)
	}
	defer p.Close()
	cfg = p.cfg
	from, err := p.LastPosition(ctx)
	if err != nil {
		return quiet(ctx, err)
	}
	if sp, ok := src.(StartPositioner); ok && from == "" {
		if from, err = storeStartPosition(ctx, p, sp, cfg.SourceName, logger); err != nil {
			return quiet(ctx, err)
		}
	}
	logger.Info("capture starting", "source", cfg.SourceName, "from", from, "kafka", cfg.Kafka, "transactions", !cfg.AtLeastOnce)

	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	batches := make(chan Batch, 256)
	streamErr := make(chan error, 1)
	go func() { streamErr <- src.Stream(streamCtx, from, batches) }()
	// On every exit path the stream must end before Run returns.
	stopStream := func() error {
		stop()
		return <-streamErr
	}

	var group []Batch
	var held *Batch // taken while draining; it starts the next group
	lagTick := time.NewTicker(LagInterval)
	defer lagTick.Stop()
	cfg.Stats.refreshLag(ctx, src)
	// next waits for the next batch; ok false means Run must return err.
	next := func() (b Batch, ok bool, err error) {
		for {
			select {
			case <-lagTick.C:
				cfg.Stats.refreshLag(ctx, src)
			case <-ctx.Done():
				_ = stopStream()
				logger.Info("capture stopped", "source", cfg.SourceName)
				return b, false, nil
			case err := <-streamErr:
				if ctx.Err() != nil {
					return b, false, nil
				}
				if err == nil {
					err = errors.New("stream ended")
				}
				return b, false, fmt.Errorf("capture %s: source: %w", cfg.SourceName, err)
			case b := <-batches:
				return b, true, nil
			}
		}
	}
	// failed ends Run after a Kafka error (the transaction was aborted;
	// the next run resumes from the last committed position).
	failed := func(err error) error {
		_ = stopStream()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("capture %s: %w", cfg.SourceName, err)
	}
	for {
		group = group[:0]
		var first Batch
		if held != nil {
			first, held = *held, nil
		} else {
			b, ok, err := next()
			if !ok {
				return err
			}
			first = b
		}
		n := len(first.Changes)
		if first.Partial {
			// A large source transaction: its parts go out one by one in
			// one Kafka transaction that commits with the last part.
			if err := p.Begin(); err != nil {
				return failed(err)
			}
			b := first
			for b.Partial {
				if err := p.Produce(ctx, []Batch{b}); err != nil {
					return failed(err)
				}
				if cfg.Stats != nil {
					cfg.Stats.PartialBatches.Add(1)
				}
				nb, ok, err := next()
				if !ok {
					return errors.Join(err, p.abort(ctx, nil))
				}
				b = nb
				n += len(b.Changes)
			}
			if err := p.Commit(ctx, b); err != nil {
				return failed(err)
			}
			group = append(group, b)
		} else {
			group = append(group, first)
		drain:
			for n < cfg.MaxTxnRecords {
				select {
				case b := <-batches:
					if b.Partial {
						held = &b
						break drain
					}
					group = append(group, b)
					n += len(b.Changes)
				default:
					break drain
				}
			}
			if err := p.Write(ctx, group); err != nil {
				return failed(err)
			}
		}
		cfg.Stats.committed(group, n, time.Now())
		pos := group[len(group)-1].Position
		if err := src.Ack(ctx, pos); err != nil {
			_ = stopStream()
			return quiet(ctx, fmt.Errorf("capture %s: ack %s: %w", cfg.SourceName, pos, err))
		}
		logger.Debug("committed", "source", cfg.SourceName, "position", pos, "batches", len(group), "changes", n)
	}
}

// storeStartPosition commits the start position of a new capture to the
// positions topic (a transaction with no changes), so that a restart after
// a failed first transaction resumes from it.
func storeStartPosition(ctx context.Context, p *Producer, sp StartPositioner, source string, logger *slog.Logger) (string, error) {
	pos, err := sp.StartPosition(ctx)
	if err != nil {
		return "", fmt.Errorf("capture %s: start position: %w", source, err)
	}
	// No commit time: no source transaction ends at this position.
	if err := p.Write(ctx, []Batch{{Position: pos}}); err != nil {
		return "", fmt.Errorf("capture %s: store start position %s: %w", source, pos, err)
	}
	logger.Info("new capture: start position stored", "source", source, "position", pos)
	return pos, nil
}

// quiet maps errors caused by cancellation to the clean-shutdown nil.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// RunWithRestarts runs Run with a fresh Source from open each time, until
// ctx is cancelled or the source position is lost (ErrPositionLost, which
// needs an operator: a backfill). Other errors are logged and retried with
// exponential backoff up to maxBackoff (default 30s).
func RunWithRestarts(ctx context.Context, open func(context.Context) (Source, error), cfg Config, maxBackoff time.Duration, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if maxBackoff <= 0 {
		maxBackoff = 30 * time.Second
	}
	backoff := time.Second
	for {
		started := time.Now()
		src, err := open(ctx)
		if err == nil {
			err = Run(ctx, src, cfg, logger)
			src.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil || errors.Is(err, ErrPositionLost) {
			return err
		}
		if time.Since(started) > 2*maxBackoff {
			backoff = time.Second
		}
		logger.Error("capture failed; restarting", "source", cfg.SourceName, "err", err, "backoff", backoff)
		if cfg.Stats != nil {
			cfg.Stats.Restarts.Add(1)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
