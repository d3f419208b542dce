package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/capture"
)

// Stream implements capture.Source. It creates the slot when it is missing
// and from is empty, then decodes pgoutput until ctx is cancelled or an
// error occurs. Transactions whose commit end LSN is at or before from are
// skipped: they were delivered before. A slot that another walsender still
// holds (a capture that just stopped or was killed) is waited for, up to
// slotBusyWait; when Stream returns, its own walsender has released the
// slot (up to slotReleaseWait).
func (s *Source) Stream(ctx context.Context, from string, out chan<- capture.Batch) error {
	if !s.streamed.CompareAndSwap(false, true) {
		return errors.New("postgres: Stream called twice")
	}
	var fromLSN uint64
	if from != "" {
		var err error
		if fromLSN, err = parseLSN(from); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}

	conn, err := s.connectReplication(ctx)
	if err != nil {
		return err
	}
	// conn is replaced when START_REPLICATION is retried.
	defer func() { s.closeReplication(ctx, conn) }()

	slot, err := s.cat.slot(ctx, s.cfg.SlotName)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	switch {
	case slot.Exists && slot.Database != s.dbName:
		return fmt.Errorf("postgres: slot %q belongs to database %q, not %q (slot names are global to the server)",
			s.cfg.SlotName, slot.Database, s.dbName)
	case slot.Lost:
		return fmt.Errorf("postgres: slot %q was invalidated (wal_status lost): %w", s.cfg.SlotName, capture.ErrPositionLost)
	case !slot.Exists && from != "":
		return fmt.Errorf("postgres: slot %q is missing but position %s is stored: %w", s.cfg.SlotName, from, capture.ErrPositionLost)
	case !slot.Exists:
		res, err := pglogrepl.CreateReplicationSlot(ctx, conn, s.cfg.SlotName, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication})
		if err != nil {
			return fmt.Errorf("postgres: create slot %q: %w", s.cfg.SlotName, err)
		}
		s.logger.Info("created replication slot", "slot", s.cfg.SlotName, "consistent_point", res.ConsistentPoint)
	}

	// The slot's confirmed position was acknowledged before; so was from.
	// Starting acked there lets idle heartbeats advance the slot at once.
	if err := s.Ack(ctx, formatLSN(max(fromLSN, slot.ConfirmedFlush))); err != nil {
		return err
	}

	args := []string{
		fmt.Sprintf("proto_version '%d'", s.cfg.ProtoVersion),
		fmt.Sprintf("publication_names '%s'", s.cfg.Publication),
	}
	if conn, err = s.startReplication(ctx, conn, fromLSN, args); err != nil {
		if strings.Contains(err.Error(), "has already been removed") {
			return fmt.Errorf("postgres: start replication on slot %q: %v: %w", s.cfg.SlotName, err, capture.ErrPositionLost)
		}
		return fmt.Errorf("postgres: start replication on slot %q: %w", s.cfg.SlotName, err)
	}
	s.logger.Info("streaming", "slot", s.cfg.SlotName, "publication", s.cfg.Publication,
		"from", from, "confirmed_flush", formatLSN(slot.ConfirmedFlush))

	if s.cfg.HeartbeatInterval > 0 {
		hbCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go s.heartbeat(hbCtx)
	}

	st := &streamState{
		src: s, conn: conn, out: out, from: fromLSN,
		dec: newPgoutputDecoder(s.dbName, s.cfg, s.filter, s.cat),
	}
	st.dec.from = fromLSN
	return st.run(ctx)
}

func (s *Source) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, errors.New("postgres: parse DSN: invalid connection string")
	}
	pc.RuntimeParams["replication"] = "database"
	// Text output of timestamptz/timetz carries an offset either way; UTC
	// keeps it short.
	pc.RuntimeParams["TimeZone"] = "UTC"
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: replication connect: %w", err)
	}
	return conn, nil
}

// slotBusyWait bounds how long Stream waits for a slot that another
// walsender still holds. The walsender of a capture that just stopped, or
// whose process was killed, ends asynchronously a moment after its
// connection closed; a second capture really running on the slot is
// reported once the wait is over.
const slotBusyWait = 30 * time.Second

// startReplication runs START_REPLICATION on conn and returns the
// connection that streams. While the slot is active for another walsender
// (SQLSTATE 55006 object_in_use) it retries on a new connection (after an
// error the old one is left mid-protocol), up to slotBusyWait.
func (s *Source) startReplication(ctx context.Context, conn *pgconn.PgConn, from uint64, args []string) (*pgconn.PgConn, error) {
	deadline := time.Now().Add(slotBusyWait)
	for {
		err := pglogrepl.StartReplication(ctx, conn, s.cfg.SlotName, pglogrepl.LSN(from),
			pglogrepl.StartReplicationOptions{PluginArgs: args})
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return conn, err
		}
		s.logger.Info("replication slot in use; waiting for it to be released", "slot", s.cfg.SlotName, "detail", pgErr.Message)
		_ = conn.Close(context.WithoutCancel(ctx))
		select {
		case <-ctx.Done():
			return conn, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		next, err := s.connectReplication(ctx)
		if err != nil {
			return conn, err
		}
		conn = next
	}
}

// slotReleaseWait bounds how long closeReplication waits for the server
// to end the walsender.
const slotReleaseWait = 10 * time.Second

// closeReplication closes the replication connection and waits until the
// server's walsender has released the slot, so that once Stream returns
// the slot can be streamed again (a restart) or dropped (with its
// database) at once: the server ends the walsender asynchronously, after
// the connection closed, and until then the slot is active.
func (s *Source) closeReplication(ctx context.Context, conn *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slotReleaseWait)
	defer cancel()
	pid := conn.PID()
	_ = conn.Close(ctx)
	select {
	case <-conn.CleanupDone():
	case <-ctx.Done():
		return
	}
	for {
		var held bool
		err := s.cat.pool.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active_pid = $2)`,
			s.cfg.SlotName, int32(pid)).Scan(&held)
		if err != nil || !held {
			return // released, or no way to tell (the catalog pool may be closed)
		}
		select {
		case <-ctx.Done():
			s.logger.Warn("walsender still holds the slot after the connection closed", "slot", s.cfg.SlotName, "pid", pid)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// heartbeat writes a tiny non-transactional WAL record now and then. On a
// database that sees no captured writes this makes the walsender move past
// WAL written by others and send a keepalive, which the stream uses to
// advance the slot (see streamState.confirmable).
func (s *Source) heartbeat(ctx context.Context) {
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.cat.pool.Exec(ctx, `SELECT pg_logical_emit_message(false, 'sluice.heartbeat', '')`); err != nil && ctx.Err() == nil {
				s.logger.Warn("heartbeat", "err", err)
			}
		}
	}
}

// streamState is the single goroutine's view of one replication stream.
type streamState struct {
	src  *Source
	conn *pgconn.PgConn
	out  chan<- capture.Batch
	from uint64
	dec  *pgoutputDecoder

	// lastDelivered is the end LSN of the last batch sent to out.
	lastDelivered uint64
	// idleEnd is the walsender's sent position from the latest keepalive
	// received outside a transaction; confirming it is safe once every
	// batch delivered before that keepalive (up to idleNeeds) is acked.
	idleEnd, idleNeeds uint64
	lastReported       uint64
	nextStatus         time.Time
}

func (st *streamState) run(ctx context.Context) error {
	interval := st.src.cfg.StatusInterval
	st.nextStatus = time.Now().Add(interval)
	for {
		if !time.Now().Before(st.nextStatus) {
			if err := st.sendStatus(ctx); err != nil {
				return err
			}
		}
		rctx, cancel := context.WithDeadline(ctx, st.nextStatus)
		raw, err := st.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("postgres: receive: %w", err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("postgres: replication: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if err := st.handleCopyData(ctx, msg.Data); err != nil {
				return err
			}
		default:
			return fmt.Errorf("postgres: replication: unexpected message %T", raw)
		}
	}
}

func (st *streamState) handleCopyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return errors.New("postgres: replication: empty CopyData")
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("postgres: keepalive: %w", err)
		}
		if !st.dec.inTx() && uint64(ka.ServerWALEnd) > st.idleEnd {
			st.idleEnd, st.idleNeeds = uint64(ka.ServerWALEnd), st.lastDelivered
		}
		if ka.ReplyRequested {
			return st.sendStatus(ctx)
		}
		return nil
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("postgres: xlogdata: %w", err)
		}
		batch, err := st.dec.decode(ctx, uint64(xld.WALStart), xld.WALData)
		if err != nil {
			return fmt.Errorf("postgres: at %s: %w", xld.WALStart, err)
		}
		if batch == nil {
			return nil
		}
		if batch.Partial {
			return st.deliver(ctx, *batch, st.lastDelivered)
		}
		end, _ := parseLSN(batch.Position)
		if st.dec.continued() {
			// The last part of a transaction sent in parts: it commits
			// them, even when it holds no change itself.
			return st.deliver(ctx, *batch, end)
		}
		if end <= st.from || len(batch.Changes) == 0 {
			// Delivered before, or nothing captured: nothing to send, and
			// the slot may pass it once the earlier batches are acked.
			if end > st.idleEnd {
				st.idleEnd, st.idleNeeds = end, st.lastDelivered
			}
			return nil
		}
		return st.deliver(ctx, *batch, end)
	default:
		return fmt.Errorf("postgres: replication: unknown CopyData type %q", data[0])
	}
}

// deliver hands the batch on, keeping the server informed while out is
// full so that wal_sender_timeout does not end the connection.
func (st *streamState) deliver(ctx context.Context, b capture.Batch, end uint64) error {
	t := time.NewTicker(st.src.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case st.out <- b:
			st.lastDelivered = end
			return nil
		case <-t.C:
			if err := st.sendStatus(ctx); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// confirmable is the position the slot may be confirmed at: what was
// acked, or further to the last idle point when everything before it has
// been acked.
func (st *streamState) confirmable() uint64 {
	c := st.src.acked.Load()
	if st.idleEnd > c && c >= st.idleNeeds {
		c = st.idleEnd
	}
	return c
}

func (st *streamState) sendStatus(ctx context.Context) error {
	pos := st.confirmable()
	err := pglogrepl.SendStandbyStatusUpdate(ctx, st.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(pos),
		WALFlushPosition: pglogrepl.LSN(pos),
		WALApplyPosition: pglogrepl.LSN(pos),
	})
	if err != nil {
		return fmt.Errorf("postgres: standby status update: %w", err)
	}
	if pos != st.lastReported {
		st.src.logger.Debug("confirmed", "slot", st.src.cfg.SlotName, "lsn", formatLSN(pos))
		st.lastReported = pos
	}
	st.nextStatus = time.Now().Add(st.src.cfg.StatusInterval)
	return nil
}
