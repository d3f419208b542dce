// Package mysql is the MySQL/MariaDB snapshot.Source.
//
// # Views and exact ordering
//
// A view is one connection holding a REPEATABLE READ transaction started
// WITH CONSISTENT SNAPSHOT, and the binlog position P = (file, pos)
// exactly consistent with it:
//   - MariaDB: the session status binlog_snapshot_file /
//     binlog_snapshot_position, read right after START TRANSACTION WITH
//     CONSISTENT SNAPSHOT. MariaDB commits to the engine in binlog order
//     and records, with the snapshot, the binlog position of the last
//     transaction it contains. No lock.
//   - MySQL (no such status): a second connection holds
//     LOCK TABLES <snapshotted tables> READ for an instant, while the view
//     connection starts its snapshot and reads SHOW MASTER STATUS (SHOW
//     BINARY LOG STATUS from 8.2). A writer of those tables holds its
//     metadata lock until its commit is in the binlog and the engine, so
//     the lock waits for it; none can start until UNLOCK TABLES. Exact for
//     the snapshotted tables, which is all that ordering needs (ordering
//     keys compare changes of one table only). Needs the LOCK TABLES
//     privilege; unlike FLUSH TABLES WITH READ LOCK it neither waits for
//     running SELECTs (other views' chunks) nor stops other tables.
//
// Rows read in the view get the source block File = file, Pos = P, Row = 0,
// so the ordering key is MySQLOrderingKey(seq(file), P, 0). capture/mysql
// keys a change by (seq(file), start of its rows event, row index). Why
// that is exact:
//   - a transaction the snapshot reflects lies entirely before P in the
//     binlog (P is the end of the last one), so its rows events start
//     before P in the same file, or it is in an earlier file: its changes
//     sort before (file, P, 0);
//   - a transaction the snapshot does not reflect is written at P or
//     later; it starts with a GTID (MariaDB) or BEGIN event and a
//     TABLE_MAP event, which occupy bytes, so its rows events start
//     strictly after P (Pos > P), or it is in a later file (higher
//     sequence): its changes sort after (file, P, 0). No change has
//     Pos == P.
//
// So, per row, the merge keeps the snapshot row over every change it
// already contains and lets every later change win, whatever order the
// raw table receives them in (TestSnapshotOrderedAgainstConcurrentWrites
// checks this against the binlog under concurrent writer transactions).
//
// # One view per worker
//
// A consistent snapshot lives in one connection and reads one query at a
// time, so Source implements snapshot.ExclusiveViewer: the view pool lends
// each worker its own view (at most Config.Parallel are open) and replaces
// views older than snapshot.Config.ViewMaxAge between chunks, so no
// transaction lives for a whole table (a long one holds back InnoDB purge).
// Each chunk's rows carry their own view's key, which is exact for them.
//
// # Chunks and values
//
// Boundaries walk the primary key (… WHERE key > prev ORDER BY key LIMIT 1
// OFFSET step-1): chunks of equal row counts however skewed the keys.
// Ranges are nested comparisons (a > ? OR (a = ? AND b > ?)) that the
// range optimizer turns into primary-key ranges; key columns are NOT NULL,
// so they equal the row comparison (a,b) > (?,?). Bounds are typed
// parameters (integers as integers, DECIMAL cast, binary keys hex) so the
// server compares in the column's type. Table.Where is ANDed into both.
//
// A chunk is one prepared SELECT … FORCE INDEX (PRIMARY) … ORDER BY key,
// streamed row by row from go-sql-driver's binary protocol (FLOAT and
// DOUBLE arrive exactly; the text protocol prints FLOAT with 6 digits).
// Values are converted by schemas/mysqltype, the mapping capture/mysql
// uses, so a snapshot row equals the change event of the same row.
// Sessions run with time_zone '+00:00' (TIMESTAMP text is UTC) and
// utf8mb4 (the server converts latin1 text).
//
// TODO(mysql): MySQL's native JSON arrives as the server's text
// ({"a": 1}); capture renders the binlog's binary JSON with go-mysql,
// which may space it differently. MariaDB (JSON is text) is exact.
package mysql
