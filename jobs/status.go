package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
)

// Status is how fresh the lake is: per SCD1 table what it has merged and
// what waits, and per topic what Kafka holds that ingest has not read.
type Status struct {
	// RawVersion is the raw table's latest version, -1 when it does not
	// exist yet.
	RawVersion int64         `json:"raw_version"`
	Tables     []TableStatus `json:"tables"`
	// Topics is the Kafka lag of the raw table per topic; empty (and
	// KafkaError set) when the brokers could not be asked.
	Topics     []TopicLag `json:"topics,omitempty"`
	KafkaError string     `json:"kafka_error,omitempty"`
	// Captures is each configured source's replication position, read from
	// the source database.
	Captures []CapturePosition `json:"captures,omitempty"`
	// SnapshotsInProgress are the snapshots and backfills whose tables
	// merge holds back until every chunk is committed (holdback.go).
	SnapshotsInProgress []HeldTable `json:"snapshots_in_progress,omitempty"`
}

// TableStatus is one SCD1 table's freshness.
type TableStatus struct {
	Table    string   `json:"table"` // source table, db.table or db.schema.table
	Location string   `json:"location"`
	Topics   []string `json:"topics,omitempty"` // the topics that feed it
	// Version is the SCD1 table's latest version, -1 when not created yet.
	Version int64 `json:"version"`
	// MergedRawVersion is the raw version the table is complete through
	// (-1: nothing merged yet).
	MergedRawVersion int64 `json:"merged_raw_version"`
	// SourceCommitTime and OrderingKey say how far into the source's history
	// the table reflects (from the sluice.progress domain).
	SourceCommitTime *time.Time `json:"source_commit_time,omitempty"`
	OrderingKey      string     `json:"ordering_key,omitempty"`
	MergedAt         *time.Time `json:"merged_at,omitempty"`
	// RawVersionsWaiting is RawVersion - MergedRawVersion.
	RawVersionsWaiting int64 `json:"raw_versions_waiting"`
	// RowsWaiting counts the raw rows of this table's topics committed after
	// MergedRawVersion (an upper bound when a file mixes topics); -1 when it
	// could not be counted.
	RowsWaiting int64  `json:"rows_waiting"`
	Error       string `json:"error,omitempty"`
	// HeldBack is "snapshot in progress" while merge holds the table back.
	HeldBack string `json:"held_back,omitempty"`
}

// TopicLag is the offsets of one topic not yet in the raw table.
type TopicLag struct {
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	Lag        int64  `json:"lag"`
}

// kafkaStatusTimeout bounds how long status waits for the brokers.
const kafkaStatusTimeout = 10 * time.Second

// GetStatus reads the freshness of the lake. It writes nothing. Kafka being
// unreachable is not an error: the status says so in KafkaError.
func GetStatus(ctx context.Context, cfg *Config, logger *slog.Logger) (*Status, error) {
	lk, err := openLake(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	st := &Status{RawVersion: -1}
	var rawSnap *lakelog.Snapshot
	if rawSnap, err = lk.raw.Snapshot(ctx); err == nil {
		st.RawVersion = rawSnap.Version()
	} else if !errors.Is(err, lakelog.ErrNoTable) {
		return nil, fmt.Errorf("raw table: %w", err)
	}
	feeds, err := readMergeCatalog(ctx, lk.warehouse, cfg.Merge.TablesRoot)
	if err != nil {
		return nil, err
	}
	for _, t := range cfg.Merge.Tables {
		if _, ok := feeds[t.Source]; !ok {
			feeds[t.Source] = nil
		}
	}
	if rawSnap != nil {
		if st.SnapshotsInProgress, err = SnapshotsInProgress(ctx, lk.raw.Store(), rawSnap); err != nil {
			return nil, err
		}
	}
	for _, h := range st.SnapshotsInProgress {
		if _, ok := feeds[h.Table]; !ok {
			feeds[h.Table] = nil // not merged yet: listed anyway
		}
	}
	names := make([]string, 0, len(feeds))
	for n := range feeds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ts := tableStatus(ctx, cfg, lk, name, feeds[name], st.RawVersion)
		if slices.ContainsFunc(st.SnapshotsInProgress, func(h HeldTable) bool { return h.Table == name }) {
			ts.HeldBack = "snapshot in progress"
		}
		st.Tables = append(st.Tables, ts)
	}
	if len(cfg.Kafka.Brokers) > 0 {
		st.Topics, err = kafkaLag(ctx, cfg, lk, logger)
		if err != nil {
			st.KafkaError = RedactError(err, cfg.Secrets()).Error()
		}
	} else {
		st.KafkaError = "no kafka.brokers configured"
	}
	st.Captures = capturePositions(ctx, cfg)
	return st, nil
}

// readMergeCatalog returns source table → topics from merge's catalog
// (<tables_root>/_sluice_merge/catalog.json): the tables merge has seen.
func readMergeCatalog(ctx context.Context, wh blob.Store, root string) (map[string][]string, error) {
	feeds := map[string][]string{}
	key := strings.Trim(root, "/") + "/_sluice_merge/catalog.json"
	rc, err := wh.Get(ctx, key)
	if errors.Is(err, blob.ErrNotExist) {
		return feeds, nil
	}
	if err != nil {
		return nil, fmt.Errorf("merge catalog: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("merge catalog: %w", err)
	}
	var c struct {
		Topics map[string][]struct {
			DB     string `json:"db"`
			Schema string `json:"schema"`
			Table  string `json:"table"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("merge catalog %s: %w", key, err)
	}
	for topic, tables := range c.Topics {
		for _, t := range tables {
			id := schemas.TableID{Database: t.DB, Schema: t.Schema, Table: t.Table}.String()
			feeds[id] = append(feeds[id], topic)
		}
	}
	for _, ts := range feeds {
		sort.Strings(ts)
	}
	return feeds, nil
}

// tableLocation is where merge keeps the SCD1 table of a source table.
func tableLocation(cfg *Config, name string) string {
	for _, t := range cfg.Merge.Tables {
		if t.Source == name && t.Location != "" {
			return t.Location
		}
	}
	return merge.DefaultLocation(cfg.Merge.TablesRoot, parseTableID(name))
}

// parseTableID parses db.table or db.schema.table.
func parseTableID(name string) schemas.TableID {
	parts := strings.SplitN(name, ".", 3)
	switch len(parts) {
	case 3:
		return schemas.TableID{Database: parts[0], Schema: parts[1], Table: parts[2]}
	case 2:
		return schemas.TableID{Database: parts[0], Table: parts[1]}
	}
	return schemas.TableID{Table: name}
}

func tableStatus(ctx context.Context, cfg *Config, lk *lake, name string, topics []string, rawVersion int64) TableStatus {
	ts := TableStatus{Table: name, Location: tableLocation(cfg, name), Topics: topics, Version: -1, MergedRawVersion: -1, RowsWaiting: -1}
	tbl := lakelog.Open(blob.Sub(lk.warehouse, strings.Trim(ts.Location, "/")), lakelog.Options{})
	snap, err := tbl.Snapshot(ctx)
	switch {
	case errors.Is(err, lakelog.ErrNoTable):
	case err != nil:
		ts.Error = RedactError(err, cfg.Secrets()).Error()
		return ts
	default:
		ts.Version = snap.Version()
		if v, ok := snap.AppVersion(merge.AppID); ok {
			ts.MergedRawVersion = v
		}
		if conf, ok := snap.Domain(merge.ProgressDomain); ok {
			var p merge.Progress
			if json.Unmarshal([]byte(conf), &p) == nil {
				ts.OrderingKey = p.OrderingKey
				if p.SourceTsMs > 0 {
					t := time.UnixMilli(p.SourceTsMs).UTC()
					ts.SourceCommitTime = &t
				}
				if p.MergedAt > 0 {
					t := time.UnixMilli(p.MergedAt).UTC()
					ts.MergedAt = &t
				}
			}
		}
	}
	if rawVersion < 0 {
		ts.RowsWaiting = 0
		return ts
	}
	ts.RawVersionsWaiting = rawVersion - ts.MergedRawVersion
	rows, err := rowsWaiting(ctx, lk.raw, ts.MergedRawVersion, rawVersion, topics)
	if err != nil {
		ts.Error = "rows waiting: " + err.Error()
		return ts
	}
	ts.RowsWaiting = rows
	return ts
}

// rowsWaiting counts the rows of the raw commits (after, upTo] in data files
// whose topic range can hold one of topics (all files when topics is empty).
func rowsWaiting(ctx context.Context, raw *lakelog.Table, after, upTo int64, topics []string) (int64, error) {
	var n int64
	for c, err := range raw.Commits(ctx, after, upTo) {
		if err != nil {
			return 0, err
		}
		for _, a := range c.Actions {
			if a.Add == nil || !a.Add.DataChange {
				continue
			}
			st, err := a.Add.ParsedStats()
			if err != nil || st == nil {
				continue
			}
			if len(topics) > 0 && !statsMayHoldTopic(st, topics) {
				continue
			}
			n += st.NumRecords
		}
	}
	return n, nil
}

func statsMayHoldTopic(st *lakelog.Stats, topics []string) bool {
	lo, ok1 := st.MinValues[schemas.RawColTopic].(string)
	hi, ok2 := st.MaxValues[schemas.RawColTopic].(string)
	if !ok1 || !ok2 {
		return true
	}
	for _, t := range topics {
		// max stats may be truncated prefixes: compare by prefix too.
		if t >= lo && (t <= hi || strings.HasPrefix(t, hi)) {
			return true
		}
	}
	return false
}

// kafkaLag asks the brokers, through ingest's planner, how many offsets of
// each topic the raw table has not read.
func kafkaLag(ctx context.Context, cfg *Config, lk *lake, logger *slog.Logger) ([]TopicLag, error) {
	ic, err := ingestConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, kafkaStatusTimeout)
	defer cancel()
	p, err := ingest.Plan(ctx, ic, lk.raw, logger)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	idx := map[string]int{}
	var out []TopicLag
	for _, pp := range p.Partitions {
		i, ok := idx[pp.Topic]
		if !ok {
			i = len(out)
			idx[pp.Topic] = i
			out = append(out, TopicLag{Topic: pp.Topic})
		}
		out[i].Partitions++
		next := pp.Committed + 1
		if pp.Committed < 0 {
			next = pp.LogStart
		}
		if lag := pp.StableEnd - next; lag > 0 {
			out[i].Lag += lag
		}
	}
	return out, nil
}

// WriteText prints the status as tables for a terminal.
func (s *Status) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "raw table version: %d\n\n", s.RawVersion)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tVERSION\tMERGED RAW\tSOURCE COMMIT TIME\tRAW VERSIONS WAITING\tROWS WAITING\tERROR")
	if len(s.Tables) == 0 {
		fmt.Fprintln(tw, "(no SCD1 tables yet: run `sluice merge`)\t\t\t\t\t\t")
	}
	for _, t := range s.Tables {
		when := "-"
		if t.SourceCommitTime != nil {
			when = t.SourceCommitTime.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%s\n", t.Table, t.Version, t.MergedRawVersion, when, t.RawVersionsWaiting, t.RowsWaiting, t.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeHeld(w, s.SnapshotsInProgress); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if s.KafkaError != "" {
		fmt.Fprintf(w, "kafka lag: unavailable (%s)\n", s.KafkaError)
	} else {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tLAG (offsets not in the raw table)")
		for _, t := range s.Topics {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Topic, t.Partitions, t.Lag)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(s.Captures) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return writeCaptures(w, s.Captures)
}

// CapturePosition is where a source's replication stream stands, as the
// source database sees it: for PostgreSQL the slot's confirmed and restart
// positions and the WAL they hold back. Status reads it without changing
// anything (no slot is created, no position acknowledged).
type CapturePosition struct {
	Source string `json:"source"`
	Type   string `json:"type"`
	// PostgreSQL: the logical replication slot.
	Slot string `json:"slot,omitempty"`
	// SlotActive: a capture is connected to the slot now.
	SlotActive *bool `json:"slot_active,omitempty"`
	// ConfirmedFlushLSN is the position capture acknowledged (everything
	// before it is committed to Kafka); RestartLSN the oldest WAL the slot
	// keeps; CurrentLSN the server's current WAL write position.
	ConfirmedFlushLSN string `json:"confirmed_flush_lsn,omitempty"`
	RestartLSN        string `json:"restart_lsn,omitempty"`
	CurrentLSN        string `json:"current_wal_lsn,omitempty"`
	// LagBytes is WAL written after ConfirmedFlushLSN: what capture has not
	// yet committed to Kafka.
	LagBytes *int64 `json:"lag_bytes,omitempty"`
	// RetainedWALBytes is WAL the server keeps for the slot,
	// pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn): the disk a stopped
	// capture costs the source.
	RetainedWALBytes *int64 `json:"retained_wal_bytes,omitempty"`
	// WALStatus is pg_replication_slots.wal_status: reserved, extended,
	// unreserved or lost (lost: the position is gone, backfill).
	WALStatus string `json:"wal_status,omitempty"`
	// MySQL/MariaDB (status_mysql.go): StoredPosition is the position
	// capture stored in Kafka with its last commit, ServerPosition the
	// server's binlog position now, both "<file>:<pos>[;<gtid set>]";
	// LagBytes is the binlog between them.
	StoredPosition string `json:"stored_position,omitempty"`
	ServerPosition string `json:"server_position,omitempty"`
	Error          string `json:"error,omitempty"`
}

// captureStatusTimeout bounds each source's query.
const captureStatusTimeout = 10 * time.Second

// defaultSlotName is capture/postgres's slot when sources[].slot is empty.
const defaultSlotName = "sluice"

// capturePositions reads every configured source's position. A source that
// cannot be asked gets Error set; it never fails the status.
func capturePositions(ctx context.Context, cfg *Config) []CapturePosition {
	var out []CapturePosition
	for i := range cfg.Sources {
		src := &cfg.Sources[i]
		cp := CapturePosition{Source: src.Name, Type: src.Type}
		switch src.Type {
		case "postgres":
			if err := postgresSlotPosition(ctx, src, &cp); err != nil {
				cp.Error = RedactError(err, cfg.Secrets()).Error()
			}
		case "mysql", "mariadb":
			if err := binlogPosition(ctx, cfg, src, &cp); err != nil {
				cp.Error = RedactError(err, cfg.Secrets()).Error()
			}
		}
		out = append(out, cp)
	}
	return out
}

// postgresSlotPosition reads the slot's row of pg_replication_slots over a
// plain (non-replication) connection.
func postgresSlotPosition(ctx context.Context, src *SourceConfig, cp *CapturePosition) error {
	cp.Slot = src.Slot
	if cp.Slot == "" {
		cp.Slot = defaultSlotName
	}
	ctx, cancel := context.WithTimeout(ctx, captureStatusTimeout)
	defer cancel()
	conn, err := pgconn.Connect(ctx, src.DSN.Reveal())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	// Simple protocol and a literal: works on a replication=database
	// connection too. The slot name is quoted as a string literal.
	q := `SELECT active, confirmed_flush_lsn, restart_lsn, pg_current_wal_lsn(),
		pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
		pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, wal_status
		FROM pg_replication_slots WHERE slot_name = '` + strings.ReplaceAll(cp.Slot, "'", "''") + `'`
	res, err := conn.Exec(ctx, q).ReadAll()
	if err != nil {
		return fmt.Errorf("slot %s: %w", cp.Slot, err)
	}
	if len(res) != 1 || len(res[0].Rows) == 0 {
		return fmt.Errorf("slot %s does not exist: capture has not run, or the slot was dropped", cp.Slot)
	}
	row := res[0].Rows[0]
	if len(row) != 7 {
		return errors.New("slot " + cp.Slot + ": unexpected columns")
	}
	active := string(row[0]) == "t"
	cp.SlotActive = &active
	cp.ConfirmedFlushLSN, cp.RestartLSN, cp.CurrentLSN = string(row[1]), string(row[2]), string(row[3])
	cp.LagBytes, cp.RetainedWALBytes = parseOptionalInt(row[4]), parseOptionalInt(row[5])
	cp.WALStatus = string(row[6])
	return nil
}

// parseOptionalInt parses a bigint column; nil for NULL.
func parseOptionalInt(v []byte) *int64 {
	if v == nil {
		return nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// writeCaptures prints the capture positions as a table.
func writeCaptures(w io.Writer, cps []CapturePosition) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// CAPTURED is what capture committed to Kafka (PostgreSQL: the slot's
	// confirmed flush LSN; MySQL: the stored binlog position), SERVER the
	// source's position now; LAG BYTES lies between them.
	fmt.Fprintln(tw, "SOURCE\tSLOT\tACTIVE\tCAPTURED\tSERVER\tLAG BYTES\tRETAINED WAL BYTES\tWAL STATUS\tERROR")
	for _, c := range cps {
		active := "-"
		if c.SlotActive != nil {
			active = strconv.FormatBool(*c.SlotActive)
		}
		captured, server := c.ConfirmedFlushLSN, c.CurrentLSN
		if c.Type == "mysql" || c.Type == "mariadb" {
			captured, server = c.StoredPosition, c.ServerPosition
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Source, dash(c.Slot), active, dash(captured), dash(server),
			optionalInt(c.LagBytes), optionalInt(c.RetainedWALBytes), dash(c.WALStatus), c.Error)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func optionalInt(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}
