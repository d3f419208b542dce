package schemas

// ConnectType is a Kafka Connect schema type name, as it appears in the
// envelope schema's "type" field.
type ConnectType string

// Kafka Connect primitive and container types.
const (
	Int8    ConnectType = "int8"
	Int16   ConnectType = "int16"
	Int32   ConnectType = "int32"
	Int64   ConnectType = "int64"
	Float32 ConnectType = "float"
	Float64 ConnectType = "double"
	Boolean ConnectType = "boolean"
	String  ConnectType = "string"
	Bytes   ConnectType = "bytes"
	Array   ConnectType = "array"
	Map     ConnectType = "map"
	Struct  ConnectType = "struct"
)

// Semantic (logical) type names used by Debezium and Kafka Connect; they ride
// in the schema's "name" field and say how to read the primitive value.
const (
	SemDecimal        = "org.apache.kafka.connect.data.Decimal"   // bytes: big-endian two's-complement unscaled; parameters.scale
	SemVariableScale  = "io.debezium.data.VariableScaleDecimal"   // struct{scale int32, value bytes}
	SemDate           = "io.debezium.time.Date"                   // int32 days since epoch
	SemTime           = "io.debezium.time.Time"                   // int32 ms past midnight
	SemMicroTime      = "io.debezium.time.MicroTime"              // int64 µs past midnight
	SemNanoTime       = "io.debezium.time.NanoTime"               // int64 ns past midnight
	SemTimestamp      = "io.debezium.time.Timestamp"              // int64 ms since epoch, no zone
	SemMicroTimestamp = "io.debezium.time.MicroTimestamp"         // int64 µs since epoch, no zone
	SemNanoTimestamp  = "io.debezium.time.NanoTimestamp"          // int64 ns since epoch, no zone
	SemZonedTimestamp = "io.debezium.time.ZonedTimestamp"         // string ISO-8601 with offset
	SemZonedTime      = "io.debezium.time.ZonedTime"              // string
	SemYear           = "io.debezium.time.Year"                   // int32
	SemJSON           = "io.debezium.data.Json"                   // string
	SemUUID           = "io.debezium.data.Uuid"                   // string
	SemEnum           = "io.debezium.data.Enum"                   // string; parameters.allowed
	SemEnumSet        = "io.debezium.data.EnumSet"                // string, comma-separated
	SemBits           = "io.debezium.data.Bits"                   // bytes; parameters.length
	SemXML            = "io.debezium.data.Xml"                    // string
	SemInterval       = "io.debezium.time.MicroDuration"          // int64 µs
	SemConnectDate    = "org.apache.kafka.connect.data.Date"      // int32 days
	SemConnectTime    = "org.apache.kafka.connect.data.Time"      // int32 ms
	SemConnectTs      = "org.apache.kafka.connect.data.Timestamp" // int64 ms
)

// Column describes one source column as it travels in the envelope schema.
type Column struct {
	Name     string
	Type     ConnectType
	Semantic string            // Debezium/Connect logical name, "" when plain
	Params   map[string]string // schema "parameters" (scale, length, allowed, …)
	Optional bool
	// Elem is the element type of an Array column.
	Elem *Column
	// SourceType is the database's own type name (e.g. "NUMERIC", "VARCHAR"),
	// carried in parameters as Debezium's column.propagate.source.type does;
	// informational only.
	SourceType string
}
