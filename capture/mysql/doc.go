// Package mysql is the MySQL/MariaDB capture.Source: it reads the row-based
// binlog as a replica (go-mysql's replication.BinlogSyncer, no canal, no
// mysqldump) and turns row events into schemas.Changes. It is the only
// package that imports go-mysql.
//
// # Transactions and positions
//
// Every transaction that changed a captured table becomes one
// capture.Batch, sent when its commit event (XID; COMMIT/ROLLBACK query for
// non-transactional tables; the query itself for DDL) arrives. Its Position
// is "<file>:<end of the commit event>[;<GTID set>]": the coordinates where
// the next transaction starts plus the executed GTID set including this
// transaction. Resuming from a Position starts the dump by GTID when the set
// is non-empty (MariaDB "0-1-42", MySQL "uuid:1-42"), else by file and
// position; either way strictly after the batch. A broken connection ends
// Stream (go-mysql's own retry is off: it would resume mid-transaction).
//
// Before streaming, Stream checks the position is still on the server
// (SHOW BINARY LOGS holds the file; for MySQL with GTIDs, gtid_purged is in
// the resume set) and maps the server's error 1236 ("could not read binlog")
// to capture.ErrPositionLost: changes would be missing, the recovery is a
// backfill. Nothing is ever skipped silently.
//
// New captures (from == "") start at the current position: MariaDB
// @@gtid_binlog_pos plus SHOW MASTER STATUS (read until both agree), MySQL
// SHOW MASTER STATUS or, from 8.2, SHOW BINARY LOG STATUS (statusQuery).
//
// # Source coordinates and ordering
//
// Source.File/Pos/Row follow Debezium: Pos is the START position of the rows
// event (mysql-binlog-connector's EventHeaderV4.getPosition(), i.e. the
// header's next-position minus the event length), and Row is the 0-based
// index of the row within that event (for updates, of the before/after
// pair). Every change in one rows event shares File and Pos.
//
// The ordering key (file sequence, Pos, Row) is commit order because the
// binlog is written in commit order. A snapshot taken at a consistent binlog
// position P (the end of the last transaction before it, as SHOW MASTER
// STATUS reports) gives its rows MySQLOrderingKey(file, P, 0). Every change
// committed after the snapshot has a key above that: its transaction starts
// at P or later with a GTID (or BEGIN) event and a TABLE_MAP event, which
// occupy bytes, so its rows events start strictly after P (Pos > P), or it
// is in a later file (higher sequence). No change has Pos == P, so Row can
// start at 0 as in Debezium.
//
// A primary-key update is emitted, as by Debezium, as a delete of the old
// key then a create of the new one; both carry the same coordinates (they
// have different keys, so per-key order is unaffected).
//
// # Schemas
//
// Column names, signedness, charsets, ENUM/SET members and the primary key
// come from the table-map event's optional metadata when the server writes
// it (binlog_row_metadata=FULL, MySQL 8.0.1+/MariaDB 10.5+). What is missing
// comes from information_schema, read when a table is first seen and again
// after any DDL query event (any query other than BEGIN/COMMIT/ROLLBACK
// drops the cached shapes), so a changed table is decoded with its new
// columns from that point on. MariaDB JSON columns (LONGTEXT with a
// json_valid check) are recognised through information_schema too.
// Without FULL metadata, events older than the current table definition
// cannot be matched to column names; a column-count mismatch is an error,
// never a guess.
//
// binlog_row_image=MINIMAL/NOBLOB: columns absent from an image are
// schemas.Unavailable{} (primary-key columns absent from an update's after
// image are copied from the before image: they did not change). TRUNCATE
// is not captured (Debezium's default skipped.operations=t).
//
// # Types (Debezium MySQL connector defaults; decimal.handling.mode=precise,
// time.precision.mode=adaptive_time_microseconds)
//
//	MySQL type               Connect type   semantic (name)                   value
//	TINYINT [UNSIGNED]       int16          -                                 int16
//	SMALLINT                 int16          -                                 int16
//	SMALLINT UNSIGNED        int32          -                                 int32
//	MEDIUMINT [UNSIGNED]     int32          -                                 int32
//	INT                      int32          -                                 int32
//	INT UNSIGNED             int64          -                                 int64
//	BIGINT                   int64          -                                 int64
//	BIGINT UNSIGNED          bytes          Decimal scale 0, precision 20     unscaled two's complement (*)
//	DECIMAL(p,s)             bytes          Decimal, scale s, precision p     unscaled two's complement, exact
//	FLOAT                    float          -                                 float32
//	DOUBLE/REAL              double         -                                 float64
//	BOOL/BOOLEAN             int16          -                                 (TINYINT(1); the binlog cannot tell)
//	BIT(1)                   boolean        -                                 bool
//	BIT(n>1)                 bytes          io.debezium.data.Bits, length n   little-endian, (n+7)/8 bytes
//	CHAR/VARCHAR/TEXT        string         -                                 UTF-8 (latin1 converted as cp1252)
//	BINARY(n)                bytes          -                                 padded with 0x00 to n bytes
//	VARBINARY/BLOB           bytes          -                                 []byte
//	DATE                     int32          io.debezium.time.Date             days since epoch
//	DATETIME(0-3)            int64          io.debezium.time.Timestamp        ms since epoch, read as UTC
//	DATETIME(4-6)            int64          io.debezium.time.MicroTimestamp   µs since epoch, read as UTC
//	TIMESTAMP(fsp)           string         io.debezium.time.ZonedTimestamp   "2024-02-29T12:34:56.789Z", fsp digits
//	TIME(fsp)                int64          io.debezium.time.MicroTime        µs, may be negative or > 24 h
//	YEAR                     int32          io.debezium.time.Year             2024
//	JSON (MySQL)             string         io.debezium.data.Json             text of go-mysql's binary-JSON decoding
//	JSON (MariaDB)           string         io.debezium.data.Json             the stored text, as written
//	ENUM                     string         io.debezium.data.Enum, allowed    member ("" for the invalid index 0)
//	SET                      string         io.debezium.data.EnumSet, allowed members, comma-separated, in definition order
//	GEOMETRY                 bytes          -                                 SRID + WKB (TODO: Debezium Geometry struct)
//
// (*) Debezium's default bigint.unsigned.handling.mode=long wraps values
// above 2^63-1 to negative numbers; sluice uses the "precise" mode instead
// so no value is ever wrong. Zero dates ('0000-00-00') become null in
// nullable columns and the epoch otherwise, as in Debezium.
//
// # Concurrency
//
// Stream runs on one goroutine and owns the binlog connection and the
// schema tracker; the query connection is shared under a mutex. Ack and
// Acked are safe to call concurrently with Stream; Close is idempotent.
//
// Files: config.go (Config, table filter), position.go (Position strings),
// source.go (New, positions on the server, Ack, Close), stream.go (event
// loop, transactions, row images), schema.go (table shapes), types.go
// (binlog types and go-mysql values → schemas/mysqltype, the mapping and
// value conversion shared with snapshot/mysql).
package mysql
