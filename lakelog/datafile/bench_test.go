package datafile

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// rawSchema is an 18-column raw-CDC-like table: Kafka coordinates, the
// Debezium envelope as ~1 KB of JSON, and source metadata.
const rawSchema = `{"type":"struct","fields":[
 {"name":"topic","type":"string","nullable":false,"metadata":{}},
 {"name":"partition","type":"integer","nullable":false,"metadata":{}},
 {"name":"offset","type":"long","nullable":false,"metadata":{}},
 {"name":"kafka_ts","type":"timestamp","nullable":true,"metadata":{}},
 {"name":"ingest_ts","type":"timestamp","nullable":false,"metadata":{}},
 {"name":"key","type":"binary","nullable":true,"metadata":{}},
 {"name":"value","type":"binary","nullable":true,"metadata":{}},
 {"name":"op","type":"string","nullable":true,"metadata":{}},
 {"name":"source_db","type":"string","nullable":true,"metadata":{}},
 {"name":"source_table","type":"string","nullable":true,"metadata":{}},
 {"name":"source_file","type":"string","nullable":true,"metadata":{}},
 {"name":"source_pos","type":"long","nullable":true,"metadata":{}},
 {"name":"source_ts","type":"timestamp","nullable":true,"metadata":{}},
 {"name":"tx_id","type":"string","nullable":true,"metadata":{}},
 {"name":"snapshot","type":"boolean","nullable":true,"metadata":{}},
 {"name":"schema_version","type":"integer","nullable":true,"metadata":{}},
 {"name":"connector","type":"string","nullable":true,"metadata":{}},
 {"name":"server_name","type":"string","nullable":true,"metadata":{}}
]}`

// rawRow is the same row as a struct for parquet-go's generic writer.
type rawRow struct {
	Topic         string    `parquet:"topic"`
	Partition     int32     `parquet:"partition"`
	Offset        int64     `parquet:"offset"`
	KafkaTS       time.Time `parquet:"kafka_ts,timestamp(microsecond),optional"`
	IngestTS      time.Time `parquet:"ingest_ts,timestamp(microsecond)"`
	Key           []byte    `parquet:"key,optional"`
	Value         []byte    `parquet:"value,optional"`
	Op            *string   `parquet:"op,optional"`
	SourceDB      *string   `parquet:"source_db,optional"`
	SourceTable   *string   `parquet:"source_table,optional"`
	SourceFile    *string   `parquet:"source_file,optional"`
	SourcePos     *int64    `parquet:"source_pos,optional"`
	SourceTS      time.Time `parquet:"source_ts,timestamp(microsecond),optional"`
	TxID          *string   `parquet:"tx_id,optional"`
	Snapshot      *bool     `parquet:"snapshot,optional"`
	SchemaVersion *int32    `parquet:"schema_version,optional"`
	Connector     *string   `parquet:"connector,optional"`
	ServerName    *string   `parquet:"server_name,optional"`
}

const benchPool = 1024

func benchRows() ([]rawRow, int) {
	ops := []string{"c", "u", "d", "r"}
	tables := []string{"orders", "customers", "line_items", "payments"}
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]rawRow, benchPool)
	size := 0
	for i := range rows {
		op, table := ops[i%4], tables[i%len(tables)]
		file, tx := fmt.Sprintf("mysql-bin.%06d", 1+i/512), fmt.Sprintf("tx-%d", 1000+i/7)
		db, conn, server := "shop", "mysql", "prod-mysql-1"
		pos, snap, sv := int64(4+i*731), i%97 == 0, int32(3)
		value := fmt.Sprintf(`{"before":null,"after":{"id":%d,"customer_id":%d,"status":"shipped","note":"%s","amount":"%d.%02d","updated_at":%d},`+
			`"source":{"version":"2.7.0.Final","connector":"mysql","name":"prod-mysql-1","ts_ms":%d,"db":"shop","table":"%s","file":"%s","pos":%d},"op":"%s","ts_ms":%d}`,
			i, i*31%9973, strings.Repeat("x", 600+i%200), i%10000, i%100, base.UnixMilli()+int64(i), base.UnixMilli()+int64(i), table, file, pos, op, base.UnixMilli()+int64(i)+5)
		rows[i] = rawRow{
			Topic: "shop." + table, Partition: int32(i % 12), Offset: int64(i),
			KafkaTS: base.Add(time.Duration(i) * time.Millisecond), IngestTS: base.Add(time.Duration(i)*time.Millisecond + 1234*time.Microsecond),
			Key: []byte(fmt.Sprintf(`{"id":%d}`, i)), Value: []byte(value),
			Op: &op, SourceDB: &db, SourceTable: &table, SourceFile: &file, SourcePos: &pos,
			SourceTS: base.Add(time.Duration(i) * time.Millisecond), TxID: &tx, Snapshot: &snap, SchemaVersion: &sv,
			Connector: &conn, ServerName: &server,
		}
		size += len(value) + len(rows[i].Key) + 8*6 + 4*2 + 1 + len(op) + len(db) + len(table) + len(file) + len(tx) + len(conn) + len(server) + len(rows[i].Topic)
	}
	return rows, size / benchPool
}

// rollRows bounds memory: both writers start a new file this often.
const rollRows = 256 << 10

// BenchmarkWriteRaw writes b.N raw CDC rows through Writer (stats,
// dictionaries, zstd fastest); run with -benchtime=1000000x for 1M rows.
// The caller-side cost of building []any rows (boxing the offset) is
// included, as it is part of using the API.
func BenchmarkWriteRaw(b *testing.B) {
	rows, rowBytes := benchRows()
	schema := mustSchema(b, rawSchema)
	boxed := make([][]any, len(rows))
	for i, r := range rows {
		boxed[i] = []any{r.Topic, r.Partition, r.Offset, r.KafkaTS, r.IngestTS, r.Key, r.Value, *r.Op, *r.SourceDB, *r.SourceTable,
			*r.SourceFile, *r.SourcePos, r.SourceTS, *r.TxID, *r.Snapshot, *r.SchemaVersion, *r.Connector, *r.ServerName}
	}
	newW := func() *Writer {
		w, err := NewWriter(schema, Options{})
		if err != nil {
			b.Fatal(err)
		}
		return w
	}
	w := newW()
	var out int64
	b.SetBytes(int64(rowBytes))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		row := boxed[i%benchPool]
		row[2] = int64(i)
		if err := w.Write(row); err != nil {
			b.Fatal(err)
		}
		if w.Rows() == rollRows || i == b.N-1 {
			data, _, err := w.FinishBytes()
			if err != nil {
				b.Fatal(err)
			}
			out += int64(len(data))
			w = newW()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out)/float64(b.N), "file-B/row")
}

// BenchmarkWriteRawBaseline writes the same rows with parquet-go's generic
// struct writer (zstd fastest, no stats of ours, default encodings), in
// batches of 1024 rows: the figure BenchmarkWriteRaw is judged against.
func BenchmarkWriteRawBaseline(b *testing.B) {
	rows, rowBytes := benchRows()
	var buf bytes.Buffer
	opts := []parquet.WriterOption{parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest})}
	w := parquet.NewGenericWriter[rawRow](&buf, opts...)
	var out int64
	batch := make([]rawRow, 0, benchPool)
	inFile := 0
	b.SetBytes(int64(rowBytes))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rows[i%benchPool]
		r.Offset = int64(i)
		batch = append(batch, r)
		inFile++
		if len(batch) == cap(batch) || inFile == rollRows || i == b.N-1 {
			if _, err := w.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		if inFile == rollRows || i == b.N-1 {
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			out += int64(buf.Len())
			buf.Reset()
			w = parquet.NewGenericWriter[rawRow](&buf, opts...)
			inFile = 0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out)/float64(b.N), "file-B/row")
}
