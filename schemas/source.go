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
	//
	// LSN is the WAL position of this change (source "lsn", also
	// sequence[1]).
	LSN uint64
	// CommitLSN orders transactions. It travels as sequence[0] and means,
	// depending on who produced the event:
	//   - sluice's capture: the commit LSN of the change's OWN transaction
	//     (pgoutput's Begin.FinalLSN). Every change of one transaction carries
	//     it, and it orders exactly against a snapshot taken at a consistent
	//     point P: a transaction is in the snapshot iff its commit LSN < P, so
	//     snapshot rows get PostgresOrderingKey(P, 0) and every later change
	//     sorts after them.
	//   - real Debezium: "the last committed LSN", i.e. the end LSN of the
	//     PREVIOUS transaction the connector saw (null before the first).
	// Both values strictly increase from one transaction to the next in
	// replication (commit) order, so (CommitLSN, LSN) sorts the changes of
	// either producer in commit order even when transactions interleave in
	// the WAL, where LSN alone does not. Only sluice's meaning is exact
	// against sluice's snapshots; one table is always fed by one producer.
	// 0 means null; OrderingKey then uses LSN in its place.
	CommitLSN uint64
	TxID      int64 // transaction id (source "txId"); 0 means absent

	// MySQL/MariaDB
	File     string // binlog file name
	Pos      uint64 // position of the row event in File
	Row      int    // row index within the event
	GTID     string
	ServerID uint32
}

// TxIDString is the transaction id as the raw table's tx_id column holds
// it: PostgreSQL txId in decimal, MySQL/MariaDB GTID; "" when absent.
func (s Source) TxIDString() string {
	if s.Connector == ConnectorPostgres {
		if s.TxID == 0 {
			return ""
		}
		return strconv.FormatInt(s.TxID, 10)
	}
	return s.GTID
}

// IsSnapshot reports whether the change is a snapshot read (snapshot is
// "true", "last", "first", "incremental", …: anything but ""/"false").
func (s Source) IsSnapshot() bool { return s.Snapshot != "" && s.Snapshot != "false" }

// OrderingKey returns the key that orders this change against every other
// change (and snapshot row) of the same source table. It sorts as bytes:
//
//	PostgreSQL: "P" + 16 hex digits commit LSN + 16 hex digits LSN
//	MySQL/MariaDB: "M" + 10 digits file sequence + 20 digits pos + 10 digits row
//
// The file sequence is the numeric suffix of the binlog file name
// (mysql-bin.000042 → 42). For MySQL, pos is the position of the row event
// and row the row's index inside it; the binlog is written in commit order,
// so (file, pos, row) is commit order. See CommitLSN for PostgreSQL.
//
// Snapshot rows taken at a known consistent point should use
// PostgresOrderingKey(point, 0) (with sluice's capture every transaction
// committed after the point has its own commit LSN ≥ point and a non-zero
// LSN; see CommitLSN) or MySQLOrderingKey(file, pos, 0)
// of the binlog position read with the snapshot.
func (s Source) OrderingKey() (string, error) {
	switch s.Connector {
	case ConnectorPostgres:
		commit := s.CommitLSN
		if commit == 0 {
			// No sequence, or sequence[0] null (Debezium before its first
			// commit, and the examples in Debezium's documentation): the
			// change's own LSN stands in. It keeps such events in WAL
			// order among themselves and before every later transaction,
			// whose sequence[0] is at least the end of this one's commit.
			// With 0 they sorted before everything, and the merge dropped
			// them as stale (found by TestE2EDebeziumSamples).
			commit = s.LSN
		}
		return PostgresOrderingKey(commit, s.LSN), nil
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
