package schemas

import (
	"fmt"
	"strconv"
	"strings"
)

// Connector names, as in Debezium's source.connector.
const (
	ConnectorPostgres = "postgresql"
	ConnectorMySQL    = "mysql"
	ConnectorMariaDB  = "mariadb"
)

// Source is the envelope's "source" block: where and when the change was
// committed. Only the fields of the connector in use are set.
type Source struct {
	Version   string // connector version string
	Connector string // ConnectorPostgres, ConnectorMySQL or ConnectorMariaDB
	Name      string // topic prefix (Debezium's topic.prefix / server name)
	TsMs      int64  // source commit time, ms since epoch
	Snapshot  string // "true", "last", "false", "incremental"; "" means false
	DB        string
	Schema    string // PostgreSQL only
	Table     string

	// PostgreSQL
	LSN       uint64 // LSN of this change
	CommitLSN uint64 // LSN of the commit of its transaction (sequence[0] holds the previous commit's LSN in Debezium; see OrderingKey)
	TxID      int64

	// MySQL/MariaDB
	File     string // binlog file name
	Pos      uint64 // position of the row event in File
	Row      int    // row index within the event
	GTID     string
	ServerID uint32
}

// OrderingKey returns the key that orders this change against every other
// change (and snapshot row) of the same source table. It sorts as bytes:
//
//	PostgreSQL: "P" + 16 hex digits commit LSN + 16 hex digits LSN
//	MySQL/MariaDB: "M" + 10 digits file sequence + 20 digits pos + 10 digits row
//
// The file sequence is the numeric suffix of the binlog file name
// (mysql-bin.000042 → 42).
func (s Source) OrderingKey() (string, error) {
	switch s.Connector {
	case ConnectorPostgres:
		return PostgresOrderingKey(s.CommitLSN, s.LSN), nil
	case ConnectorMySQL, ConnectorMariaDB:
		seq, err := BinlogSequence(s.File)
		if err != nil {
			return "", err
		}
		return MySQLOrderingKey(seq, s.Pos, s.Row), nil
	default:
		return "", fmt.Errorf("ordering key: unknown connector %q", s.Connector)
	}
}

// PostgresOrderingKey orders PostgreSQL changes by (commit LSN, LSN).
func PostgresOrderingKey(commitLSN, lsn uint64) string {
	return fmt.Sprintf("P%016X%016X", commitLSN, lsn)
}

// MySQLOrderingKey orders MySQL/MariaDB changes by (file sequence, pos, row).
func MySQLOrderingKey(fileSeq uint64, pos uint64, row int) string {
	return fmt.Sprintf("M%010d%020d%010d", fileSeq, pos, row)
}

// BinlogSequence returns the numeric suffix of a binlog file name.
func BinlogSequence(file string) (uint64, error) {
	i := strings.LastIndexByte(file, '.')
	if i < 0 || i == len(file)-1 {
		return 0, fmt.Errorf("binlog file %q: no numeric suffix", file)
	}
	n, err := strconv.ParseUint(file[i+1:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("binlog file %q: %w", file, err)
	}
	return n, nil
}
