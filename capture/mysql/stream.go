package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/schemas"
)

// Stream sends one Batch per committed transaction that changed a captured
// table, in binlog order, until ctx ends or an error occurs. It resumes
// strictly after from (a Batch.Position); from == "" starts at the server's
// current position. A position the server no longer holds is an error
// wrapping capture.ErrPositionLost. Stream may be called once per Source.
func (s *Source) Stream(ctx context.Context, from string, out chan<- capture.Batch) error {
	first := false
	s.streamed.Do(func() { first = true })
	if !first {
		return errors.New("mysql: Stream called twice")
	}
	var start position
	if from == "" {
		p, err := s.currentPosition()
		if err != nil {
			return fmt.Errorf("mysql: %w", err)
		}
		start = p
		s.logger.Info("new capture starts at the current binlog position", "position", start.String())
	} else {
		p, err := parsePosition(from)
		if err != nil {
			return fmt.Errorf("mysql: %w", err)
		}
		start = p
	}
	if err := s.checkAvailable(start); err != nil {
		return err
	}

	gset, err := gomysql.ParseGTIDSet(s.cfg.Flavor, start.GTID)
	if err != nil {
		return fmt.Errorf("mysql: position %s: GTID set: %w", start, err)
	}
	syncer, streamer, err := s.openStream(start, gset)
	if err != nil {
		return mapStreamError(start, err)
	}
	defer syncer.Close()
	s.logger.Info("streaming binlog", "from", start.String(), "by_gtid", start.GTID != "")

	st := &streamState{
		src:       s,
		out:       out,
		tracker:   newSchemaTracker(s.query, s.cfg.Flavor),
		file:      start.File,
		committed: start,
		gset:      gset,
		captured:  map[string]bool{},
		lastSent:  time.Now(),
	}
	if s.cfg.Flavor == FlavorMariaDB {
		st.connector = schemas.ConnectorMariaDB
	} else {
		st.connector = schemas.ConnectorMySQL
	}
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return mapStreamError(st.committed, err)
		}
		if err := st.handle(ctx, ev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("mysql: binlog %s at %d: %w", st.file, ev.Header.LogPos, err)
		}
	}
}

// openStream starts the binlog dump after start: by GTID when start has a
// GTID set, else by file and position.
func (s *Source) openStream(start position, gset gomysql.GTIDSet) (*replication.BinlogSyncer, *replication.BinlogStreamer, error) {
	host, portStr, _ := net.SplitHostPort(s.cfg.Addr)
	port, _ := strconv.ParseUint(portStr, 10, 16)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: s.cfg.ServerID,
		Flavor:   s.cfg.Flavor,
		Host:     host,
		Port:     uint16(port),
		User:     s.cfg.User,
		Password: s.cfg.Password,
		// time.Time values for DATETIME/TIMESTAMP (faster than strings);
		// TIMESTAMP's instant is zone-free, we format it in UTC.
		ParseTime:               true,
		TimestampStringLocation: time.UTC,
		// A broken connection ends Stream: go-mysql's own retry would resume
		// mid-transaction by file position. The caller restarts from the
		// last stored position instead.
		DisableRetrySync: true,
		HeartbeatPeriod:  s.cfg.HeartbeatInterval,
		Logger:           s.logger.With("component", "go-mysql"),
	})
	var streamer *replication.BinlogStreamer
	var err error
	if start.GTID != "" {
		streamer, err = syncer.StartSyncGTID(gset.Clone())
	} else {
		streamer, err = syncer.StartSync(gomysql.Position{Name: start.File, Pos: uint32(start.Pos)})
	}
	if err != nil {
		syncer.Close()
		return nil, nil, err
	}
	return syncer, streamer, nil
}

// mapStreamError turns the server's "cannot read binlog" (error 1236:
// purged file, GTID not found) into capture.ErrPositionLost.
func mapStreamError(p position, err error) error {
	var myErr *gomysql.MyError
	if errors.As(err, &myErr) && myErr.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG ||
		strings.Contains(err.Error(), "ERROR 1236") {
		return fmt.Errorf("mysql: resume from %s: server cannot send the binlog (%v): %w", p, err, capture.ErrPositionLost)
	}
	return fmt.Errorf("mysql: stream from %s: %w", p, err)
}

// streamState is the stream goroutine's view of the binlog.
type streamState struct {
	src       *Source
	out       chan<- capture.Batch
	tracker   *schemaTracker
	connector string

	file      string // current binlog file
	committed position
	gset      gomysql.GTIDSet // executed GTIDs up to committed

	// The open transaction.
	txGTID  string
	inBegin bool
	changes []schemas.Change
	parts   int // Partial batches of the open transaction already sent

	captured map[string]bool // filter decision by "db.table"
	lastSent time.Time
	unsent   bool // committed moved past the last sent Position
}

func (st *streamState) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		// MariaDB has no BEGIN query: a GTID event without the standalone
		// flag opens a transaction that ends with XID or COMMIT.
		st.txGTID = e.GTID.String()
		st.inBegin = !e.IsStandalone()
	case *replication.GTIDEvent:
		next, err := e.GTIDNext()
		if err != nil {
			return fmt.Errorf("gtid event: %w", err)
		}
		st.txGTID = next.String()
	case *replication.QueryEvent:
		switch q := e.Query; {
		case bytes.EqualFold(q, []byte("BEGIN")):
			st.inBegin = true
		case bytes.EqualFold(q, []byte("COMMIT")), bytes.EqualFold(q, []byte("ROLLBACK")):
			// Non-transactional tables end with a COMMIT query; a ROLLBACK in
			// a row binlog means their changes happened anyway.
			return st.commit(ctx, h)
		default:
			// DDL (or another statement logged as a query): the tables it
			// touched are re-read at their next table-map event.
			st.tracker.invalidate()
			if !st.inBegin {
				return st.commit(ctx, h)
			}
		}
	case *replication.XIDEvent:
		return st.commit(ctx, h)
	case *replication.RowsEvent:
		if err := st.rows(h, e); err != nil {
			return err
		}
		if len(st.changes) >= st.src.cfg.MaxTxnChanges {
			// A binlog holds committed transactions only, so a part
			// sent before the commit is never rolled back.
			b := capture.Batch{Changes: st.changes, CommitTsMs: int64(h.Timestamp) * 1000, Partial: true}
			st.changes = nil
			st.parts++
			return st.send(ctx, b)
		}
		return nil
	}
	return st.maybeHeartbeat(ctx)
}

// rows turns a rows event of a captured table into Changes.
func (st *streamState) rows(h *replication.EventHeader, e *replication.RowsEvent) error {
	tm := e.Table
	if tm == nil {
		return fmt.Errorf("rows event for unknown table id %d", e.TableID)
	}
	name := string(tm.Schema) + "." + string(tm.Table)
	ok, seen := st.captured[name]
	if !seen {
		ok = st.src.filter.Match(name)
		st.captured[name] = ok
	}
	if !ok {
		return nil
	}
	if h.LogPos < h.EventSize {
		return fmt.Errorf("rows event has no position (log pos %d)", h.LogPos)
	}
	t, err := st.tracker.table(tm)
	if err != nil {
		return err
	}
	var op schemas.Op
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = schemas.OpCreate
	case replication.EnumRowsEventTypeUpdate:
		op = schemas.OpUpdate
	case replication.EnumRowsEventTypeDelete:
		op = schemas.OpDelete
	default:
		return fmt.Errorf("table %s: unknown rows event type %v", name, h.EventType)
	}
	src := schemas.Source{
		Connector: st.connector,
		Name:      st.src.cfg.TopicPrefix,
		TsMs:      int64(h.Timestamp) * 1000,
		DB:        t.id.Database,
		Table:     t.id.Table,
		File:      st.file,
		// Debezium's pos: the START of the rows event (binlog-connector's
		// EventHeaderV4.getPosition() = next position - event length).
		Pos:      uint64(h.LogPos - h.EventSize),
		GTID:     st.txGTID,
		ServerID: h.ServerID,
	}
	step := 1
	if op == schemas.OpUpdate {
		step = 2
	}
	if len(e.Rows)%step != 0 {
		return fmt.Errorf("table %s: update event with %d row images", name, len(e.Rows))
	}
	for i := 0; i+step <= len(e.Rows); i += step {
		src.Row = i / step
		image, err := st.image(t, e, i)
		if err != nil {
			return fmt.Errorf("table %s row %d: %w", name, src.Row, err)
		}
		c := schemas.Change{
			Table: t.id, Op: op, Columns: t.schemaCols, Key: t.key,
			Source: src, TsMs: src.TsMs,
		}
		switch op {
		case schemas.OpCreate:
			c.After = image
		case schemas.OpDelete:
			c.Before = image
		case schemas.OpUpdate:
			after, err := st.image(t, e, i+1)
			if err != nil {
				return fmt.Errorf("table %s row %d: %w", name, src.Row, err)
			}
			c.Before, c.After = image, after
			if keyChanged(t, c.Before, c.After) {
				// As Debezium: a key change is a delete of the old key and a
				// create of the new one.
				del := c
				del.Op, del.After = schemas.OpDelete, nil
				st.changes = append(st.changes, del)
				c.Op, c.Before = schemas.OpCreate, nil
			}
		}
		st.changes = append(st.changes, c)
	}
	return nil
}

// image converts row image i of e. Columns the image leaves out
// (binlog_row_image=MINIMAL/NOBLOB) are schemas.Unavailable{}.
func (st *streamState) image(t *table, e *replication.RowsEvent, i int) ([]any, error) {
	row := e.Rows[i]
	if len(row) != len(t.columns) {
		return nil, fmt.Errorf("row has %d columns, table %d", len(row), len(t.columns))
	}
	out := make([]any, len(row))
	for j, v := range row {
		c := &t.columns[j]
		x, err := c.convert(v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		out[j] = x
	}
	if i < len(e.SkippedColumns) {
		for _, j := range e.SkippedColumns[i] {
			out[j] = schemas.Unavailable{}
		}
	}
	return out, nil
}

// keyChanged reports whether an update changed the primary key. A key
// column missing from a minimal after image is unchanged: it is filled in
// from the before image, so that the change still has its key.
func keyChanged(t *table, before, after []any) bool {
	changed := false
	for _, k := range t.keyIdx {
		if _, gone := after[k].(schemas.Unavailable); gone {
			after[k] = before[k]
			continue
		}
		if !sameValue(before[k], after[k]) {
			changed = true
		}
	}
	return changed
}

func sameValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	return a == b
}

// commit ends the open transaction at its commit event: the position moves
// to the event's end and the transaction's changes, if any, go out as one
// Batch.
func (st *streamState) commit(ctx context.Context, h *replication.EventHeader) error {
	if st.txGTID != "" {
		if err := st.gset.Update(st.txGTID); err != nil {
			return fmt.Errorf("gtid %s: %w", st.txGTID, err)
		}
	}
	if h.LogPos == 0 {
		return errors.New("commit event has no position (log pos 0)")
	}
	st.committed = position{File: st.file, Pos: uint64(h.LogPos), GTID: st.gset.String()}
	st.txGTID, st.inBegin = "", false
	parts := st.parts
	st.parts = 0
	if len(st.changes) == 0 && parts == 0 {
		st.unsent = true
		return st.maybeHeartbeat(ctx)
	}
	b := capture.Batch{Changes: st.changes, Position: st.committed.String(), CommitTsMs: int64(h.Timestamp) * 1000}
	st.changes = nil
	return st.send(ctx, b)
}

// maybeHeartbeat sends an empty Batch at the committed position when
// transactions without captured changes moved it and nothing was sent for
// a heartbeat interval.
func (st *streamState) maybeHeartbeat(ctx context.Context) error {
	hb := st.src.cfg.HeartbeatInterval
	if hb <= 0 || !st.unsent || st.inBegin || len(st.changes) > 0 || time.Since(st.lastSent) < hb {
		return nil
	}
	return st.send(ctx, capture.Batch{Position: st.committed.String()})
}

func (st *streamState) send(ctx context.Context, b capture.Batch) error {
	select {
	case st.out <- b:
	case <-ctx.Done():
		return ctx.Err()
	}
	st.lastSent = time.Now()
	st.unsent = false
	return nil
}
