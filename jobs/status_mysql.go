package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gosql "github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/capture"
)

// The capture position of a MySQL/MariaDB source, for `sluice status`.
// Unlike a PostgreSQL slot, the server keeps nothing for a binlog reader:
// the position lives in Kafka (<topic_prefix>.sluice.positions, written in
// the same transaction as the events), and the server only says where its
// binlog is now. Status reads both, read-only: Kafka with read_committed,
// the server with SHOW statements (REPLICATION CLIENT, which capture's user
// has).

// binlogCoord is a binlog file and offset.
type binlogCoord struct {
	file string
	pos  uint64
}

// parseStoredBinlogPosition reads capture/mysql's position format,
// "<file>:<pos>[;<gtid set>]".
func parseStoredBinlogPosition(s string) (binlogCoord, bool) {
	coord, _, _ := strings.Cut(s, ";")
	i := strings.LastIndexByte(coord, ':')
	if i <= 0 {
		return binlogCoord{}, false
	}
	pos, err := strconv.ParseUint(coord[i+1:], 10, 64)
	if err != nil {
		return binlogCoord{}, false
	}
	return binlogCoord{file: coord[:i], pos: pos}, true
}

// binlogFile is one row of SHOW BINARY LOGS.
type binlogFile struct {
	name string
	size uint64
}

// binlogBytesBehind is the binlog written between stored and server: the
// rest of stored's file, the files in between and server's offset in its
// file. ok is false when the server no longer lists stored's file (purged:
// the position is lost) or the files are not in order.
func binlogBytesBehind(stored, server binlogCoord, files []binlogFile) (n int64, ok bool) {
	if stored.file == server.file {
		if server.pos < stored.pos {
			return 0, true // stored is ahead of a status read a moment earlier
		}
		return int64(server.pos - stored.pos), true
	}
	from, to := -1, -1
	for i, f := range files {
		switch f.name {
		case stored.file:
			from = i
		case server.file:
			to = i
		}
	}
	if from < 0 || to < 0 || from > to {
		return 0, false
	}
	var sum uint64
	if files[from].size > stored.pos {
		sum = files[from].size - stored.pos
	}
	for _, f := range files[from+1 : to] {
		sum += f.size
	}
	return int64(sum + server.pos), true
}

// binlogPosition fills cp for a MySQL/MariaDB source: the position capture
// stored, the server's current one, and the binlog bytes between them.
func binlogPosition(ctx context.Context, cfg *Config, src *SourceConfig, cp *CapturePosition) error {
	ctx, cancel := context.WithTimeout(ctx, captureStatusTimeout)
	defer cancel()
	server, gtid, files, err := binlogServerPosition(ctx, src)
	if err != nil {
		return err
	}
	// capture/mysql's format: "<file>:<pos>[;<gtid set>]".
	cp.ServerPosition = strings.TrimSuffix(fmt.Sprintf("%s:%d;%s", server.file, server.pos, gtid), ";")
	stored, err := storedCapturePosition(ctx, cfg, src)
	if err != nil {
		return err
	}
	if stored == "" {
		return errors.New("capture has stored no position yet")
	}
	cp.StoredPosition = stored
	sc, ok := parseStoredBinlogPosition(stored)
	if !ok {
		return fmt.Errorf("stored position %q: want <file>:<pos>[;<gtid set>]", stored)
	}
	n, ok := binlogBytesBehind(sc, server, files)
	if !ok {
		return fmt.Errorf("binlog %s is no longer on the server: the stored position is lost (capture exits 5; backfill)", sc.file)
	}
	cp.LagBytes = &n
	return nil
}

// binlogServerPosition asks the server for its binlog position and GTID
// set (MariaDB: SHOW MASTER STATUS and @@gtid_binlog_pos; MySQL: SHOW
// BINARY LOG STATUS, before 8.2 SHOW MASTER STATUS, with Executed_Gtid_Set)
// and its binlog files (SHOW BINARY LOGS).
func binlogServerPosition(ctx context.Context, src *SourceConfig) (st binlogCoord, gtid string, files []binlogFile, err error) {
	pw, err := secretValue(src.Password, src.PasswordFile, "sources."+src.Name+".password")
	if err != nil {
		return st, "", nil, err
	}
	dc := gosql.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr = src.User, pw, "tcp", src.Addr
	dc.Timeout = captureStatusTimeout
	conn, err := gosql.NewConnector(dc)
	if err != nil {
		return st, "", nil, errors.New("invalid connection settings")
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return st, "", nil, fmt.Errorf("connect to %s: %w", src.Addr, err)
	}
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")
	q := "SHOW MASTER STATUS"
	rows, err := queryStrings(ctx, db, q)
	if !mariadb && err != nil {
		// MySQL 8.2 renamed it; 8.4 removed the old name.
		q = "SHOW BINARY LOG STATUS"
		rows, err = queryStrings(ctx, db, q)
	}
	if err != nil {
		return st, "", nil, fmt.Errorf("%s: %w", q, err)
	}
	if len(rows) == 0 {
		return st, "", nil, fmt.Errorf("%s: no rows: the binlog is off (log_bin)", q)
	}
	st.file = rows[0]["File"]
	if st.pos, err = strconv.ParseUint(rows[0]["Position"], 10, 64); err != nil {
		return st, "", nil, fmt.Errorf("%s: position %q: %w", q, rows[0]["Position"], err)
	}
	gtid = rows[0]["Executed_Gtid_Set"]
	if mariadb {
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtid); err != nil {
			return st, "", nil, fmt.Errorf("read gtid_binlog_pos: %w", err)
		}
	}
	logs, err := queryStrings(ctx, db, "SHOW BINARY LOGS")
	if err != nil {
		return st, "", nil, fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	for _, l := range logs {
		size, _ := strconv.ParseUint(l["File_size"], 10, 64)
		files = append(files, binlogFile{name: l["Log_name"], size: size})
	}
	// GTID sets are listed with newlines between domains/servers.
	return st, strings.Join(strings.Fields(gtid), ""), files, nil
}

// queryStrings runs a SHOW statement and returns its rows as column → text.
func queryStrings(ctx context.Context, db *sql.DB, q string) ([]map[string]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[c] = vals[i].String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// storedCapturePosition reads the last position capture committed for src,
// "" when it stored none. It does not create the positions topic when it is
// missing (capture never ran) and never fences the running capture.
func storedCapturePosition(ctx context.Context, cfg *Config, src *SourceConfig) (string, error) {
	if len(cfg.Kafka.Brokers) == 0 {
		return "", errors.New("kafka.brokers is not configured, so capture's stored position cannot be read")
	}
	topic := src.TopicPrefix + ".sluice.positions"
	opts, err := kafkaClientOpts(cfg)
	if err != nil {
		return "", err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", fmt.Errorf("kafka client: %w", err)
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	cl.Close()
	if err != nil {
		return "", fmt.Errorf("kafka: list %s: %w", topic, err)
	}
	if !topics.Has(topic) {
		return "", nil
	}
	kc, err := captureKafka(cfg.Kafka)
	if err != nil {
		return "", err
	}
	// AtLeastOnce: no transactional id, so the running capture's producer
	// is not fenced; the topic exists, so nothing is created.
	p, err := capture.NewProducer(ctx, capture.Config{Kafka: kc, SourceName: src.Name, TopicPrefix: src.TopicPrefix, PositionsTopic: topic, AtLeastOnce: true}, nil)
	if err != nil {
		return "", fmt.Errorf("kafka: %w", err)
	}
	defer p.Close()
	pos, err := p.LastPosition(ctx)
	if err != nil {
		return "", fmt.Errorf("kafka: %w", err)
	}
	return pos, nil
}
