package mysql

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// BinlogFile is one binlog file the server holds (a row of SHOW BINARY
// LOGS).
type BinlogFile struct {
	Name string
	Size uint64
}

// ServerBinlog is where a server's binlog stands at one moment.
type ServerBinlog struct {
	// Position is the server's current binlog position in capture's
	// position format, "<file>:<pos>[;<gtid set>]": where a capture that
	// started now would begin.
	Position string
	// Files are the binlog files the server still holds, oldest first.
	Files []BinlogFile
}

// ServerPosition reads the server's current binlog position and its binlog
// files, read-only: SHOW BINARY LOG STATUS (MySQL 8.2+) or SHOW MASTER
// STATUS (older MySQL, MariaDB, with @@gtid_binlog_pos for the GTID set)
// and SHOW BINARY LOGS, which need REPLICATION CLIENT, a privilege capture's
// user has. Unlike New it does not require a row-based binlog, so status
// can report a misconfigured server. cfg.Flavor must match the server;
// Include, Exclude and the stream settings are not used. Safe for
// concurrent use (each call opens its own connection).
func ServerPosition(ctx context.Context, cfg Config) (ServerBinlog, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return ServerBinlog{}, err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return ServerBinlog{}, err
	}
	// go-mysql's queries take no context: a deadline in the past unblocks
	// them when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	s := &Source{cfg: cfg, logger: slog.New(slog.DiscardHandler), conn: conn}
	defer s.Close()
	r, err := s.query("SELECT VERSION()")
	if err != nil {
		return ServerBinlog{}, fmt.Errorf("mysql: read server version: %w", ctxErr(ctx, err))
	}
	s.version, _ = r.GetString(0, 0)
	if isMariaDB := strings.Contains(strings.ToLower(s.version), "mariadb"); isMariaDB != (cfg.Flavor == FlavorMariaDB) {
		return ServerBinlog{}, fmt.Errorf("mysql: server %s is %q but flavor is %q", cfg.Addr, s.version, cfg.Flavor)
	}
	pos, err := s.currentPosition()
	if err != nil {
		return ServerBinlog{}, fmt.Errorf("mysql: %w", ctxErr(ctx, err))
	}
	logs, err := s.query("SHOW BINARY LOGS")
	if err != nil {
		return ServerBinlog{}, fmt.Errorf("mysql: SHOW BINARY LOGS: %w", ctxErr(ctx, err))
	}
	out := ServerBinlog{Position: pos.String()}
	for i := range logs.RowNumber() {
		name, _ := logs.GetString(i, 0)
		size, _ := logs.GetUint(i, 1)
		out.Files = append(out.Files, BinlogFile{Name: name, Size: size})
	}
	return out, nil
}

// ctxErr prefers ctx's error to the I/O error its cancellation caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
