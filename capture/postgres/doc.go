// Package postgres is the PostgreSQL capture.Source: logical replication
// with the built-in pgoutput plugin (PostgreSQL 10+), via pglogrepl. It is
// the only package that imports pglogrepl.
//
// New creates the publication when missing (FOR ALL TABLES, or FOR TABLE
// the configured tables); Stream creates the logical slot when missing and
// no position is stored. Every transaction becomes one capture.Batch whose
// Position is the commit's end LSN ("0/16B3748"); resuming skips every
// transaction whose end LSN is at or before it.
//
// # Positions and the slot
//
// The slot's confirmed_flush_lsn only moves on Ack, i.e. when Kafka holds the
// changes. A slot missing while a position is stored, or invalidated
// (wal_status 'lost'), is capture.ErrPositionLost.
//
// Idle databases: the walsender sends keepalives carrying its sent position
// whenever it has decoded WAL past what we confirmed (any WAL, from any
// database in the cluster). A keepalive that arrives outside a transaction
// proves that every transaction committed before that position has been
// received, so once all delivered batches are acked the slot is confirmed
// at the keepalive's position. That keeps WAL from piling up without
// writing anything. Config.HeartbeatInterval additionally emits a tiny
// non-transactional pg_logical_emit_message, for clusters where nothing else
// writes WAL (it needs no table, and pgoutput does not forward it).
//
// # Events
//
//   - Ordering: Source.LSN is the change's own WAL position, Source.CommitLSN
//     its transaction's commit LSN; the ordering key is (CommitLSN, LSN).
//   - Key: the primary-key columns (catalog); with REPLICA IDENTITY USING
//     INDEX and no primary key, the index columns; otherwise no key.
//   - An UPDATE that changes the key is emitted, as by Debezium, as a delete
//     of the old key followed by a create of the new one.
//   - Before images: REPLICA IDENTITY DEFAULT sends the old key only on
//     DELETE and key-changing UPDATE (other columns null); FULL sends the
//     whole old row.
//   - Unchanged TOASTed values ('u' in pgoutput) are schemas.Unavailable{},
//     unless the FULL old row carries the value.
//   - TRUNCATE gives one op "t" change per table with no key, unless
//     Config.SkipTruncate.
//   - Change.TsMs is the commit time (so replays are byte-identical).
//   - At most Config.MaxTxnChanges changes of one transaction are held in
//     memory: a larger one goes out in Partial batches that capture.Run
//     writes into ONE Kafka transaction, committed with the last part, so
//     consumers still see it whole or not at all. (pgoutput sends only
//     committed transactions, so parts are never rolled back; the Kafka
//     transaction must finish within capture.Config.TransactionTimeout.)
//
// # Type mapping
//
// Debezium's PostgreSQL mapping with decimal.handling.mode=precise and
// time.precision.mode=adaptive. Values are what Change.Before/After hold.
//
//	PostgreSQL                 Connect type   Semantic (name)                          Value
//	-------------------------  -------------  ---------------------------------------  ---------------------------------------
//	boolean                    boolean                                                 bool
//	smallint                   int16                                                   int16
//	integer, serial            int32                                                   int32
//	bigint, bigserial, oid     int64                                                   int64
//	real                       float                                                   float32
//	double precision           double                                                  float64
//	numeric(p,s), decimal      bytes          org.apache.kafka.connect.data.Decimal    unscaled big-endian two's complement;
//	                                          (params scale, connect.decimal.precision) NaN → null
//	numeric (no typmod)        struct         io.debezium.data.VariableScaleDecimal    schemas.VariableScaleDecimal{Scale,Value}
//	money                      bytes          org.apache.kafka.connect.data.Decimal    scale 2 (money.fraction.digits)
//	text, varchar, char(n)     string                                                  string (char padded as stored)
//	name, "char"               string                                                  string
//	bytea                      bytes                                                   []byte
//	date                       int32          io.debezium.time.Date                    days since 1970-01-01
//	time(0-3)                  int32          io.debezium.time.Time                    ms past midnight
//	time, time(4-6)            int64          io.debezium.time.MicroTime               µs past midnight
//	timetz                     string         io.debezium.time.ZonedTime               "01:04:05.123Z" (UTC)
//	timestamp(0-3)             int64          io.debezium.time.Timestamp               ms since epoch
//	timestamp, timestamp(4-6)  int64          io.debezium.time.MicroTimestamp          µs since epoch
//	timestamptz                string         io.debezium.time.ZonedTimestamp          "2024-01-02T03:04:05.123456Z" (UTC,
//	                                                                                   trailing fraction zeros dropped)
//	interval                   int64          io.debezium.time.MicroDuration           µs; a month is 30.4375 days
//	json, jsonb                string         io.debezium.data.Json                    server text (jsonb normalised by PG)
//	xml                        string         io.debezium.data.Xml                     string
//	uuid                       string         io.debezium.data.Uuid                    lower-case string
//	enum types                 string         io.debezium.data.Enum (param allowed)    label
//	bit(1)                     boolean                                                 bool
//	bit(n>1), varbit(n)        bytes          io.debezium.data.Bits (param length)     little-endian bytes of the bit number
//	inet, cidr, macaddr(8)     string                                                  server text
//	domains                    as their base type
//	T[] (arrays)               array of T's mapping                                    []any (nested for multi-dim), NULL → nil
//	others (ranges, geometry,  string                                                  server text (TODO: Debezium's Point
//	  tsvector, hstore, ...)                                                           struct and hstore map)
//	NULL                                                                               nil
//	unchanged TOAST                                                                    schemas.Unavailable{}
//
// date/timestamp infinity map to the int32/int64 extremes; timestamptz
// infinity to the strings "infinity"/"-infinity".
package postgres
