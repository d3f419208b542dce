package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/schemas/pgtext"
)

// Source streams one PostgreSQL database's committed changes from a logical
// replication slot (pgoutput). It implements capture.Source.
type Source struct {
	cfg    Config
	filter *capture.TableFilter
	logger *slog.Logger
	cat    *catalog
	dbName string

	// acked is the highest LSN Ack received: everything up to it is
	// durable downstream.
	acked atomic.Uint64

	streamed  atomic.Bool
	closeOnce sync.Once
}

var _ capture.Source = (*Source)(nil)

// New connects to the database, checks the configuration and creates the
// publication when it is missing. The replication slot is created by Stream
// (only when no position is stored: a missing slot with a stored position
// means changes were lost).
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	filter, err := newTableFilter(cfg)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's parse errors can quote the DSN; never pass them on.
		return nil, errors.New("postgres: parse DSN: invalid connection string")
	}
	poolCfg.MaxConns = 3
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Source{
		cfg: cfg, filter: filter, logger: logger,
		cat: &catalog{pool: pool, types: map[uint32]pgtext.Type{}},
	}
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&s.dbName); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	created, err := s.cat.ensurePublication(ctx, cfg, filter)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if created {
		logger.Info("created publication", "publication", cfg.Publication, "all_tables", cfg.AllTables)
	}
	return s, nil
}

// Ack records that every change up to pos (a batch Position) is durable in
// Kafka. The stream reports it to the server as the slot's confirmed flush
// position at the next status interval. Positions never move backwards;
// safe for concurrent use.
func (s *Source) Ack(_ context.Context, pos string) error {
	lsn, err := parseLSN(pos)
	if err != nil {
		return fmt.Errorf("postgres: ack: %w", err)
	}
	for {
		cur := s.acked.Load()
		if lsn <= cur || s.acked.CompareAndSwap(cur, lsn) {
			return nil
		}
	}
}

// SlotLag returns how many bytes of WAL the slot retains beyond its
// confirmed flush position (pg_current_wal_lsn() - confirmed_flush_lsn),
// for metrics. Safe for concurrent use.
func (s *Source) SlotLag(ctx context.Context) (int64, error) {
	var lag *int64
	err := s.cat.pool.QueryRow(ctx,
		`SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1`,
		s.cfg.SlotName).Scan(&lag)
	if err != nil {
		return 0, fmt.Errorf("postgres: slot lag of %q: %w", s.cfg.SlotName, err)
	}
	if lag == nil {
		return 0, nil
	}
	return *lag, nil
}

// DropSlot drops the replication slot (and nothing else). For tests and for
// decommissioning a capture; a dropped slot makes the stored position lost.
func (s *Source) DropSlot(ctx context.Context) error {
	_, err := s.cat.pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.cfg.SlotName)
	if err != nil {
		return fmt.Errorf("postgres: drop slot %q: %w", s.cfg.SlotName, err)
	}
	return nil
}

// Close releases the catalog connections. Idempotent.
func (s *Source) Close() error {
	s.closeOnce.Do(func() { s.cat.pool.Close() })
	return nil
}

func parseLSN(s string) (uint64, error) {
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("position %q: %w", s, err)
	}
	return uint64(lsn), nil
}

func formatLSN(lsn uint64) string { return pglogrepl.LSN(lsn).String() }
