package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/capture/mysql"
)

// The capture position of a MySQL/MariaDB source, for `sluice status`.
// Unlike a PostgreSQL slot, the server keeps nothing for a binlog reader:
// the position lives in Kafka (<topic_prefix>.sluice.positions, written in
// the same transaction as the events), and the server only says where its
// binlog is now. Status reads both, read-only: Kafka with read_committed
// (capture.ReadPosition), the server with SHOW statements
// (mysql.ServerPosition; REPLICATION CLIENT, which capture's user has).

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
	pw, err := secretValue(src.Password, src.PasswordFile, "sources."+src.Name+".password")
	if err != nil {
		return err
	}
	flavor := mysql.FlavorMySQL
	if src.Type == "mariadb" {
		flavor = mysql.FlavorMariaDB
	}
	sb, err := mysql.ServerPosition(ctx, mysql.Config{Addr: src.Addr, User: src.User, Password: pw, Flavor: flavor, TopicPrefix: src.TopicPrefix})
	if err != nil {
		return err
	}
	cp.ServerPosition = sb.Position
	server, ok := parseStoredBinlogPosition(sb.Position)
	if !ok {
		return fmt.Errorf("server position %q: want <file>:<pos>[;<gtid set>]", sb.Position)
	}
	files := make([]binlogFile, len(sb.Files))
	for i, f := range sb.Files {
		files[i] = binlogFile{name: f.Name, size: f.Size}
	}
	if len(cfg.Kafka.Brokers) == 0 {
		return errors.New("kafka.brokers is not configured, so capture's stored position cannot be read")
	}
	kc, err := captureKafka(cfg.Kafka)
	if err != nil {
		return err
	}
	stored, err := capture.ReadPosition(ctx, kc, src.TopicPrefix+".sluice.positions", src.Name, nil)
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
