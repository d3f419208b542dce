package schemas

import "strconv"

// The raw table contract (DESIGN.md "Raw table", notes/raw-schema.md) as
// plain data: ingest writes it, merge reads it, lakelog knows nothing of it.

// Raw table column names.
const (
	RawColTopic           = "topic"
	RawColIngestTs        = "ingest_ts"
	RawColPartition       = "partition"
	RawColOffset          = "offset"
	RawColKafkaTs         = "kafka_ts"
	RawColKey             = "key"
	RawColValue           = "value"
	RawColOp              = "op"
	RawColSourceConnector = "source_connector"
	RawColSourceDB        = "source_db"
	RawColSourceSchema    = "source_schema"
	RawColSourceTable     = "source_table"
	RawColOrderingKey     = "ordering_key"
	RawColSourceTs        = "source_ts"
	RawColTxID            = "tx_id"
	RawColSnapshot        = "snapshot"
	RawColBatchID         = "batch_id"
	RawColHeaders         = "headers"
)

// RawColumn is one raw table column: its name, Delta type name and whether
// it may be null.
type RawColumn struct {
	Name      string
	DeltaType string
	Nullable  bool
}

// RawColumns returns the raw table's columns in table order. The slice is
// fresh on every call; callers may modify it.
func RawColumns() []RawColumn {
	return []RawColumn{
		{RawColTopic, DeltaString, false},          // Kafka topic
		{RawColIngestTs, DeltaTimestamp, false},    // when this ingest run read the record (one value per batch; µs)
		{RawColPartition, DeltaInteger, false},     //
		{RawColOffset, DeltaLong, false},           //
		{RawColKafkaTs, DeltaTimestamp, true},      // record timestamp
		{RawColKey, DeltaBinary, true},             // original key bytes (null if none)
		{RawColValue, DeltaBinary, true},           // original value bytes (null = tombstone)
		{RawColOp, DeltaString, true},              // c/u/d/r/t; null for tombstones and non-change records
		{RawColSourceConnector, DeltaString, true}, // postgresql/mysql/mariadb
		{RawColSourceDB, DeltaString, true},        //
		{RawColSourceSchema, DeltaString, true},    // PostgreSQL namespace; null for MySQL
		{RawColSourceTable, DeltaString, true},     //
		{RawColOrderingKey, DeltaString, true},     // Source.OrderingKey(): sorts bytewise in source commit order
		{RawColSourceTs, DeltaTimestamp, true},     // source commit time (source.ts_ms)
		{RawColTxID, DeltaString, true},            // Source.TxIDString(): PostgreSQL txId / MySQL GTID
		{RawColSnapshot, DeltaBoolean, true},       // true for snapshot reads
		{RawColBatchID, DeltaString, true},         // id of the ingest run/batch that wrote the row
		{RawColHeaders, DeltaString, true},         // Kafka headers as a JSON object of base64 values, null if none
	}
}

// RawProtocol is the raw table's protocol action, as JSON.
const RawProtocol = `{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["appendOnly","domainMetadata","clustering"]}`

// RawMinReaderVersion, RawMinWriterVersion and RawWriterFeatures are
// RawProtocol as values.
const (
	RawMinReaderVersion = 1
	RawMinWriterVersion = 7
)

// RawWriterFeatures returns the raw table's writer features.
func RawWriterFeatures() []string { return []string{"appendOnly", "domainMetadata", "clustering"} }

// RawConfiguration returns the raw table's metaData configuration.
func RawConfiguration() map[string]string { return map[string]string{"delta.appendOnly": "true"} }

// RawClusteringColumns are the raw table's clustering columns, in order.
func RawClusteringColumns() []string { return []string{RawColTopic, RawColIngestTs} }

// Clustering domain metadata, as Spark writes it.
const (
	ClusteringDomain = "delta.clustering"
	// RawClusteringConfiguration is the domainMetadata "configuration"
	// string (itself JSON) for the raw table.
	RawClusteringConfiguration = `{"clusteringColumns":[["topic"],["ingest_ts"]],"domainName":"delta.clustering"}`
)

// IngestAppIDPrefix starts every ingest txn appId.
const IngestAppIDPrefix = "sluice-ingest|"

// SnapshotAppIDPrefix starts every txn appId of a raw commit written by a
// snapshot, backfill or repair (snapshot rows, op r, and its deletes):
// rows whose source positions may be older than those of changes already
// in the raw table.
const SnapshotAppIDPrefix = "sluice-snapshot|"

// IngestAppID is the txn appId under which ingest records the last offset of
// (topic, partition) written to the raw table: "sluice-ingest|<topic>|<partition>".
// Kafka topic names cannot contain '|', so the id is unambiguous.
func IngestAppID(topic string, partition int32) string {
	return IngestAppIDPrefix + topic + "|" + strconv.FormatInt(int64(partition), 10)
}
