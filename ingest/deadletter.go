package ingest

import (
	"errors"
	"time"

	"github.com/sluicehq/sluice/lakelog"
)

// ErrDeadLetterRatio is returned (wrapped, with the counts) when more than
// Config.MaxDeadLetterRatio of a run's records could not be parsed, or when a
// record could not be parsed and Run has no dead-letter table. The
// microbatch holding the record is not committed.
var ErrDeadLetterRatio = errors.New("too many dead letters")

// DeadLetterSchema is the dead-letter table's schema. Its txn actions use
// the same app ids as the raw table (schemas.IngestAppID), version = the last
// offset whose dead letters are committed, so a retried microbatch does not
// write them twice.
func DeadLetterSchema() *lakelog.StructType {
	f := func(name string, t lakelog.DataType, nullable bool) *lakelog.StructField {
		return &lakelog.StructField{Name: name, Type: t, Nullable: nullable, Metadata: map[string]any{}}
	}
	return &lakelog.StructType{Fields: []*lakelog.StructField{
		f("topic", lakelog.TypeString, false),
		f("partition", lakelog.TypeInteger, false),
		f("offset", lakelog.TypeLong, false),
		f("kafka_ts", lakelog.TypeTimestamp, true),
		f("key", lakelog.TypeBinary, true),
		f("value", lakelog.TypeBinary, true),
		f("error", lakelog.TypeString, false),
		f("ingest_ts", lakelog.TypeTimestamp, false),
		f("batch_id", lakelog.TypeString, false),
		f("headers", lakelog.TypeString, true),
	}}
}

// deadLetter is a record that could not be parsed.
type deadLetter struct {
	topic string
	rec   rawRecord
	err   string
}

func (d *deadLetter) row(ingestTS time.Time, batchID string) []any {
	row := []any{d.topic, d.rec.partition, d.rec.offset, nil, nilIfNoBytes(d.rec.key), nilIfNoBytes(d.rec.value), d.err, ingestTS, batchID, nil}
	if !d.rec.kafkaTS.IsZero() {
		row[3] = d.rec.kafkaTS.UTC().Truncate(time.Microsecond)
	}
	if d.rec.headers != "" {
		row[9] = d.rec.headers
	}
	return row
}
