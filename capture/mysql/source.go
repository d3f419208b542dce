package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/schemas"
)

// Source streams one MySQL or MariaDB server's committed row changes from
// its binlog. It implements capture.Source.
type Source struct {
	cfg     Config
	filter  *capture.TableFilter
	logger  *slog.Logger
	version string // SELECT VERSION()

	// mu guards conn, the query connection (status, information_schema).
	mu   sync.Mutex
	conn *client.Conn

	ackMu sync.Mutex
	acked position

	streamed  sync.Once
	closeOnce sync.Once
}

var _ capture.StartPositioner = (*Source)(nil)

// New connects to the server and checks that it writes a row-based binlog.
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
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, filter: filter, logger: logger, conn: conn}
	if err := s.checkServer(); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func connect(ctx context.Context, cfg Config) (*client.Conn, error) {
	conn, err := client.ConnectWithContext(ctx, cfg.Addr, cfg.User, cfg.Password, "", 10*time.Second)
	if err != nil {
		// go-mysql's errors name the user and whether a password was used,
		// never the password itself.
		return nil, fmt.Errorf("mysql: connect to %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// checkServer verifies the flavor and the binlog settings capture needs.
func (s *Source) checkServer() error {
	r, err := s.query("SELECT VERSION(), @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image")
	if err != nil {
		return fmt.Errorf("mysql: read server settings: %w", err)
	}
	s.version, _ = r.GetString(0, 0)
	logBin, _ := r.GetInt(0, 1)
	format, _ := r.GetString(0, 2)
	image, _ := r.GetString(0, 3)
	isMariaDB := strings.Contains(strings.ToLower(s.version), "mariadb")
	if isMariaDB != (s.cfg.Flavor == FlavorMariaDB) {
		return fmt.Errorf("mysql: server %s is %q but flavor is %q", s.cfg.Addr, s.version, s.cfg.Flavor)
	}
	if logBin != 1 {
		return fmt.Errorf("mysql: server %s has no binlog (log_bin=OFF)", s.cfg.Addr)
	}
	if !strings.EqualFold(format, "ROW") {
		return fmt.Errorf("mysql: server %s has binlog_format=%s; capture needs ROW", s.cfg.Addr, format)
	}
	if !strings.EqualFold(image, "FULL") {
		s.logger.Warn("binlog_row_image is not FULL: columns missing from row images are sent as unavailable",
			"binlog_row_image", image)
	}
	// binlog_row_metadata exists from MySQL 8.0.1 and MariaDB 10.5.
	if r, err := s.query("SELECT @@GLOBAL.binlog_row_metadata"); err == nil {
		if meta, _ := r.GetString(0, 0); !strings.EqualFold(meta, "FULL") {
			s.logger.Warn("binlog_row_metadata is not FULL: column names come from the current information_schema, "+
				"so events written before a later ALTER TABLE fail to decode", "binlog_row_metadata", meta)
		}
	}
	return nil
}

// query runs one statement on the query connection, reconnecting once if
// the connection broke.
func (s *Source) query(q string, args ...any) (*gomysql.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil, errors.New("source closed")
	}
	r, err := s.conn.Execute(q, args...)
	var myErr *gomysql.MyError
	if err == nil || errors.As(err, &myErr) {
		return r, err
	}
	conn, cerr := connect(context.Background(), s.cfg)
	if cerr != nil {
		return nil, err
	}
	s.conn.Close()
	s.conn = conn
	return s.conn.Execute(q, args...)
}

// statusQuery returns the statement that reports the binlog file and
// position: MySQL 8.2 renamed SHOW MASTER STATUS to SHOW BINARY LOG STATUS
// (8.4 removed the old name); MariaDB keeps SHOW MASTER STATUS.
func statusQuery(flavor, version string) string {
	if flavor == FlavorMariaDB {
		return "SHOW MASTER STATUS"
	}
	major, minor := parseVersion(version)
	if major > 8 || major == 8 && minor >= 2 {
		return "SHOW BINARY LOG STATUS"
	}
	return "SHOW MASTER STATUS"
}

// parseVersion reads "8.4.3-log" or "10.11.6-MariaDB" as (8, 4).
func parseVersion(v string) (major, minor int) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, _ = strconv.Atoi(parts[0])
	end := 0
	for end < len(parts[1]) && parts[1][end] >= '0' && parts[1][end] <= '9' {
		end++
	}
	minor, _ = strconv.Atoi(parts[1][:end])
	return major, minor
}

// StartPosition returns the server's current binlog position, where a new
// capture starts (capture.StartPositioner: Run stores it before streaming).
func (s *Source) StartPosition(ctx context.Context) (string, error) {
	p, err := s.currentPosition()
	if err != nil {
		return "", fmt.Errorf("mysql: %w", err)
	}
	return p.String(), nil
}

// currentPosition reads the server's binlog position now: where a new
// capture starts.
func (s *Source) currentPosition() (position, error) {
	q := statusQuery(s.cfg.Flavor, s.version)
	if s.cfg.Flavor == FlavorMySQL {
		r, err := s.query(q)
		if err != nil {
			return position{}, fmt.Errorf("%s: %w", q, err)
		}
		if r.RowNumber() == 0 {
			return position{}, fmt.Errorf("%s: no rows (binlog disabled?)", q)
		}
		file, _ := r.GetString(0, 0)
		pos, _ := r.GetUint(0, 1)
		gtid, _ := r.GetStringByName(0, "Executed_Gtid_Set")
		return position{File: file, Pos: pos, GTID: stripSpace(gtid)}, nil
	}
	// MariaDB reports the GTID position apart from the file position: read
	// it before and after, and retry until no transaction slipped between.
	for range 20 {
		before, err := s.mariadbGTIDPos()
		if err != nil {
			return position{}, err
		}
		r, err := s.query(q)
		if err != nil {
			return position{}, fmt.Errorf("%s: %w", q, err)
		}
		if r.RowNumber() == 0 {
			return position{}, fmt.Errorf("%s: no rows (binlog disabled?)", q)
		}
		file, _ := r.GetString(0, 0)
		pos, _ := r.GetUint(0, 1)
		after, err := s.mariadbGTIDPos()
		if err != nil {
			return position{}, err
		}
		if before == after {
			return position{File: file, Pos: pos, GTID: after}, nil
		}
	}
	return position{}, errors.New("read binlog position: the server commits too fast to read file and GTID positions consistently")
}

func (s *Source) mariadbGTIDPos() (string, error) {
	r, err := s.query("SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return "", fmt.Errorf("read gtid_binlog_pos: %w", err)
	}
	g, _ := r.GetString(0, 0)
	return stripSpace(g), nil
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// checkAvailable returns an error wrapping capture.ErrPositionLost when the
// server no longer holds the binlog after p.
func (s *Source) checkAvailable(p position) error {
	if s.cfg.Flavor == FlavorMySQL && p.GTID != "" {
		// Resuming by GTID: every purged transaction must be in p's set.
		r, err := s.query("SELECT @@GLOBAL.gtid_purged")
		if err != nil {
			return fmt.Errorf("read gtid_purged: %w", err)
		}
		purgedStr, _ := r.GetString(0, 0)
		lost, err := gtidPurgedBeyond(p.GTID, stripSpace(purgedStr))
		if err != nil {
			return err
		}
		if lost {
			return fmt.Errorf("mysql: resume from %s: the server purged transactions not in it (gtid_purged %s): %w",
				p, stripSpace(purgedStr), capture.ErrPositionLost)
		}
		return nil
	}
	r, err := s.query("SHOW BINARY LOGS")
	if err != nil {
		return fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	var files []string
	for i := range r.RowNumber() {
		name, _ := r.GetString(i, 0)
		files = append(files, name)
		if name == p.File {
			size, _ := r.GetUint(i, 1)
			if size > 0 && p.Pos > size {
				return fmt.Errorf("mysql: resume from %s: binlog %s holds only %d bytes (another server?): %w",
					p, name, size, capture.ErrPositionLost)
			}
			return nil
		}
	}
	earliest := "none"
	if len(files) > 0 {
		earliest = files[0]
	}
	return fmt.Errorf("mysql: resume from %s: binlog %s is gone from the server (earliest is %s): %w",
		p, p.File, earliest, capture.ErrPositionLost)
}

// gtidPurgedBeyond reports whether the server's purged MySQL GTID set holds
// transactions the resume set does not: those were never streamed and can
// no longer be.
func gtidPurgedBeyond(resume, purged string) (bool, error) {
	if purged == "" {
		return false, nil
	}
	have, err := gomysql.ParseMysqlGTIDSet(resume)
	if err != nil {
		return false, fmt.Errorf("position GTID set %q: %w", resume, err)
	}
	gone, err := gomysql.ParseMysqlGTIDSet(purged)
	if err != nil {
		return false, fmt.Errorf("server gtid_purged %q: %w", purged, err)
	}
	return !have.Contain(gone), nil
}

// Ack records that every change up to pos is durable in Kafka. The binlog
// needs no confirmation (the server purges by its own retention), so Ack
// only remembers the highest position, for Acked. Positions never move
// backwards; safe for concurrent use.
func (s *Source) Ack(_ context.Context, pos string) error {
	p, err := parsePosition(pos)
	if err != nil {
		return fmt.Errorf("mysql: ack: %w", err)
	}
	seq, err := schemas.BinlogSequence(p.File)
	if err != nil {
		return fmt.Errorf("mysql: ack: %w", err)
	}
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if s.acked.File != "" {
		cur, _ := schemas.BinlogSequence(s.acked.File)
		if seq < cur || seq == cur && p.Pos <= s.acked.Pos {
			return nil
		}
	}
	s.acked = p
	return nil
}

// Acked returns the highest position passed to Ack, "" before the first.
func (s *Source) Acked() string {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if s.acked.File == "" {
		return ""
	}
	return s.acked.String()
}

// Close releases the query connection. A running Stream stops at its next
// catalog query or when its context ends. Idempotent.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
	})
	return nil
}
