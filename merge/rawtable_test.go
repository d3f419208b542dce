package merge

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/datafile"
	"github.com/sluicehq/sluice/schemas"
)

// testRaw builds a raw table exactly as notes/raw-schema.md specifies
// (what ingest writes): the columns of schemas.RawColumns, the raw
// protocol, clustering domain, rows sorted by (topic, ingest_ts), and one
// txn per (topic, partition) with the last offset written.
type testRaw struct {
	table   *lakelog.Table
	schema  *lakelog.StructType
	offsets map[string]int64
	batch   int
	// nextAppIDs are txn appIds the next append also sets (at version 0),
	// as a snapshot's commit sets its chunk's.
	nextAppIDs []string
}

func newTestRaw(t testing.TB, store blob.Store) *testRaw {
	t.Helper()
	ctx := context.Background()
	s := &lakelog.StructType{}
	for _, c := range schemas.RawColumns() {
		s.Fields = append(s.Fields, &lakelog.StructField{Name: c.Name, Type: &lakelog.PrimitiveType{Name: c.DeltaType}, Nullable: c.Nullable})
	}
	tbl := lakelog.Open(store, lakelog.Options{})
	_, err := tbl.Create(ctx,
		lakelog.Metadata{SchemaString: s.String(), Configuration: schemas.RawConfiguration()},
		lakelog.Protocol{MinReaderVersion: schemas.RawMinReaderVersion, MinWriterVersion: schemas.RawMinWriterVersion, WriterFeatures: schemas.RawWriterFeatures()},
		lakelog.DomainMetadata{Domain: schemas.ClusteringDomain, Configuration: schemas.RawClusteringConfiguration})
	if err != nil {
		t.Fatalf("create raw table: %v", err)
	}
	return &testRaw{table: tbl, schema: s, offsets: map[string]int64{}}
}

func topicOf(id schemas.TableID) string { return id.Topic("srv") }

// append commits changes as one ingest batch and returns the version.
func (r *testRaw) append(ctx context.Context, changes []*schemas.Change, withSchema bool) (int64, error) {
	r.batch++
	ingestTs := time.Date(2024, 1, 1, 0, 0, r.batch, 0, time.UTC)
	var rows [][]any
	last := map[string]int64{}
	for _, c := range changes {
		key, err := schemas.EncodeKey(c, withSchema)
		if err != nil {
			return 0, err
		}
		value, err := schemas.EncodeValue(c, withSchema)
		if err != nil {
			return 0, err
		}
		ord, err := c.Source.OrderingKey()
		if err != nil {
			return 0, err
		}
		topic := topicOf(c.Table)
		off := r.offsets[topic]
		r.offsets[topic] = off + 1
		last[topic] = off
		var keyCol any
		if key != nil {
			keyCol = key
		}
		var schemaCol any
		if c.Table.Schema != "" {
			schemaCol = c.Table.Schema
		}
		rows = append(rows, []any{
			topic, ingestTs, int32(0), off, time.UnixMilli(c.TsMs).UTC(), keyCol, value, c.Op.String(),
			c.Source.Connector, c.Table.Database, schemaCol, c.Table.Table, ord,
			time.UnixMilli(c.Source.TsMs).UTC(), c.Source.TxIDString(), false, "batch-" + strconv.Itoa(r.batch), nil,
		})
	}
	slices.SortStableFunc(rows, func(a, b []any) int { return strings.Compare(a[0].(string), b[0].(string)) })
	// one file per topic, as clustering by topic makes them
	snap, err := r.table.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	tx := snap.Begin("WRITE")
	for i := 0; i < len(rows); {
		j := i
		w, err := datafile.NewWriter(r.schema, datafile.Options{})
		if err != nil {
			return 0, err
		}
		for ; j < len(rows) && rows[j][0] == rows[i][0]; j++ {
			if err := w.Write(rows[j]); err != nil {
				return 0, err
			}
		}
		add, err := w.Finish(ctx, r.table.Store(), "")
		if err != nil {
			return 0, err
		}
		tx.Add(add)
		i = j
	}
	for topic, off := range last {
		tx.SetAppVersion(schemas.IngestAppID(topic, 0), off)
	}
	for _, id := range r.nextAppIDs {
		tx.SetAppVersion(id, 0)
	}
	r.nextAppIDs = nil
	return tx.Commit(ctx)
}

// testColumn parses "name type [key]" into a Connect column.
func testColumn(spec string) (schemas.Column, bool, error) {
	f := strings.Fields(spec)
	if len(f) < 2 {
		return schemas.Column{}, false, fmt.Errorf("column %q: want name type [key]", spec)
	}
	c := schemas.Column{Name: f[0], Optional: true}
	key := len(f) > 2 && f[2] == "key"
	if key {
		c.Optional = false
	}
	switch typ := f[1]; {
	case typ == "int16":
		c.Type = schemas.Int16
	case typ == "int32":
		c.Type = schemas.Int32
	case typ == "int64":
		c.Type = schemas.Int64
	case typ == "float":
		c.Type = schemas.Float32
	case typ == "double":
		c.Type = schemas.Float64
	case typ == "bool":
		c.Type = schemas.Boolean
	case typ == "string":
		c.Type = schemas.String
	case typ == "date":
		c.Type, c.Semantic = schemas.Int32, schemas.SemDate
	case typ == "zoned":
		c.Type, c.Semantic = schemas.String, schemas.SemZonedTimestamp
	case strings.HasPrefix(typ, "decimal("):
		var p, s int
		if _, err := fmt.Sscanf(typ, "decimal(%d,%d)", &p, &s); err != nil {
			return c, false, fmt.Errorf("column %q: %w", spec, err)
		}
		c.Type, c.Semantic = schemas.Bytes, schemas.SemDecimal
		c.Params = map[string]string{"scale": strconv.Itoa(s), "connect.decimal.precision": strconv.Itoa(p)}
	default:
		return c, false, fmt.Errorf("column %q: unknown type %q", spec, typ)
	}
	return c, key, nil
}

// testValue parses a value in the Change form for col: "null", "?"
// (unavailable) or a literal.
func testValue(col schemas.Column, s string) (any, error) {
	switch s {
	case "null":
		return nil, nil
	case "?":
		return schemas.Unavailable{}, nil
	}
	switch col.Semantic {
	case schemas.SemDecimal:
		scale, _ := strconv.Atoi(col.Params["scale"])
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil, fmt.Errorf("decimal %q", s)
		}
		r.Mul(r, new(big.Rat).SetInt(pow10(scale)))
		if !r.IsInt() {
			return nil, fmt.Errorf("decimal %q has more than %d digits of scale", s, scale)
		}
		return schemas.TwosComplementBytes(r.Num()), nil
	case schemas.SemDate:
		d, err := time.Parse(time.DateOnly, s)
		return int32(d.Unix() / 86400), err
	}
	switch col.Type {
	case schemas.Int16:
		n, err := strconv.ParseInt(s, 10, 16)
		return int16(n), err
	case schemas.Int32:
		n, err := strconv.ParseInt(s, 10, 32)
		return int32(n), err
	case schemas.Int64:
		return strconv.ParseInt(s, 10, 64)
	case schemas.Float32:
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case schemas.Float64:
		return strconv.ParseFloat(s, 64)
	case schemas.Boolean:
		return strconv.ParseBool(s)
	}
	return s, nil
}
