package ingest

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/schemas"
)

// RawSchema is the raw table's schema, built from schemas.RawColumns (the
// contract in notes/raw-schema.md).
func RawSchema() *lakelog.StructType {
	cols := schemas.RawColumns()
	st := &lakelog.StructType{Fields: make([]*lakelog.StructField, len(cols))}
	for i, c := range cols {
		st.Fields[i] = &lakelog.StructField{Name: c.Name, Type: &lakelog.PrimitiveType{Name: c.DeltaType}, Nullable: c.Nullable, Metadata: map[string]any{}}
	}
	return st
}

// rawRecord is one Kafka record with the envelope fields extracted, waiting
// in a buffer to be written as a raw row.
type rawRecord struct {
	partition int32
	offset    int64
	kafkaTS   time.Time
	key       []byte // nil when the record has none
	value     []byte // nil for a tombstone
	headers   string // JSON, "" when none
	env       envelopeFields
}

// envelopeFields are the columns extracted from the Debezium envelope; op
// is empty for a tombstone (and heartbeat/transaction records).
type envelopeFields struct {
	op          string
	connector   string
	db          string
	schema      string
	table       string
	orderingKey string
	sourceTsMs  int64 // 0: unknown
	txID        string
	snapshot    bool
}

// size approximates the memory a buffered record holds.
func (r *rawRecord) size() int64 {
	return int64(len(r.key) + len(r.value) + len(r.headers) + len(r.env.orderingKey) + 160)
}

// clone copies the record's byte slices, which may point into a Kafka fetch
// buffer that must not stay pinned while the record waits.
func (r *rawRecord) clone() rawRecord {
	c := *r
	if r.key != nil {
		c.key = append(make([]byte, 0, len(r.key)), r.key...)
	}
	if r.value != nil {
		c.value = append(make([]byte, 0, len(r.value)), r.value...)
	}
	return c
}

// parseEnvelope extracts the routing and ordering fields of a record value
// with schemas.ParseHeader (which does not decode before/after). An error
// makes the record a dead letter.
func parseEnvelope(value []byte) (schemas.Kind, envelopeFields, error) {
	h, err := schemas.ParseHeader(value)
	if err != nil {
		return 0, envelopeFields{}, err
	}
	e := envelopeFields{txID: h.TransactionID}
	if h.Kind != schemas.KindChange {
		return h.Kind, e, nil
	}
	if h.OrderingErr != nil {
		// Without an ordering key the merge cannot place the change.
		return h.Kind, e, fmt.Errorf("ordering key: %w", h.OrderingErr)
	}
	e.op = h.Op.String()
	e.connector = h.Source.Connector
	e.db = h.Source.DB
	e.schema = h.Source.Schema
	e.table = h.Source.Table
	e.orderingKey = h.OrderingKey
	e.sourceTsMs = h.Source.TsMs
	e.snapshot = h.Op == schemas.OpRead || h.Source.IsSnapshot()
	if id := h.Source.TxIDString(); id != "" {
		e.txID = id
	}
	return h.Kind, e, nil
}

// newRawRecord converts a Kafka record. A non-nil error means the record is
// a dead letter; the rawRecord is still filled for the dead-letter row.
// Heartbeat and transaction records come back with their Kind so the caller
// can skip them.
func newRawRecord(rec *kgo.Record) (rawRecord, schemas.Kind, error) {
	r := rawRecord{
		partition: rec.Partition,
		offset:    rec.Offset,
		kafkaTS:   rec.Timestamp,
		key:       rec.Key,
		value:     rec.Value,
		headers:   headersJSON(rec.Headers),
	}
	kind, env, err := parseEnvelope(rec.Value)
	r.env = env
	return r, kind, err
}

// headersJSON encodes Kafka headers as a JSON object of base64 values. Kafka
// allows repeated header keys: a repeated key gets its later values under
// "<key>#<n>" (n = 1, 2, …) so that none is lost.
func headersJSON(hs []kgo.RecordHeader) string {
	if len(hs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	seen := make(map[string]int, len(hs))
	for i, h := range hs {
		if i > 0 {
			b.WriteByte(',')
		}
		name := h.Key
		if n := seen[h.Key]; n > 0 {
			name = fmt.Sprintf("%s#%d", h.Key, n)
		}
		seen[h.Key]++
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		if h.Value == nil {
			b.WriteString("null")
			continue
		}
		b.WriteByte('"')
		b.WriteString(base64.StdEncoding.EncodeToString(h.Value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// row returns the raw row in RawSchema order.
func (r *rawRecord) row(topic string, ingestTS time.Time, batchID string) []any {
	return r.fillRow(make([]any, rawColumns), topic, ingestTS, batchID)
}

// rawColumns is the number of columns of RawSchema.
const rawColumns = 18

// fillRow writes the raw row into row (rawColumns long) and returns it.
// The shared values come boxed (any), so that a microbatch boxes its
// ingest_ts and batch id once rather than per row.
func (r *rawRecord) fillRow(row []any, topic, ingestTS, batchID any) []any {
	row[0], row[1], row[2], row[3] = topic, ingestTS, r.partition, r.offset
	row[4], row[5], row[6] = nil, nilIfNoBytes(r.key), nilIfNoBytes(r.value)
	clear(row[7:])
	row[16] = batchID
	if !r.kafkaTS.IsZero() {
		row[4] = r.kafkaTS.UTC().Truncate(time.Microsecond)
	}
	if e := &r.env; e.op != "" {
		row[7] = e.op
		row[8] = nilIfEmpty(e.connector)
		row[9] = nilIfEmpty(e.db)
		row[10] = nilIfEmpty(e.schema)
		row[11] = nilIfEmpty(e.table)
		row[12] = nilIfEmpty(e.orderingKey)
		if e.sourceTsMs != 0 {
			row[13] = time.UnixMilli(e.sourceTsMs).UTC()
		}
		row[15] = e.snapshot
	}
	row[14] = nilIfEmpty(r.env.txID)
	if r.headers != "" {
		row[17] = r.headers
	}
	return row
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nilIfNoBytes keeps the difference between a missing key (nil) and an
// empty one ([]byte{}), which Kafka also distinguishes.
func nilIfNoBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
