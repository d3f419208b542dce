package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/dv"
	"github.com/sluicehq/sluice/schemas"
)

// DemoOptions configure Demo.
type DemoOptions struct {
	// Dir is the warehouse directory; a new temporary directory when empty.
	Dir string
	// Rounds of changes after the initial load (default 3).
	Rounds int
	// Seed makes the generated changes reproducible (default 1).
	Seed uint64
	// Out receives the narration, the tables and the status.
	Out    io.Writer
	Logger *slog.Logger
}

// DemoResult is what the demo built, for its test.
type DemoResult struct {
	Dir string
	// Expected is the generator's own account of each table's final rows
	// (source table → rows sorted by key); Actual is what the SCD1 tables
	// hold, read back from the lake, in the same form (values as text).
	Expected map[string][]map[string]string
	Actual   map[string][]map[string]string
}

// demoConfig is the demo's sluice.yaml, with the embedded broker's address
// and the warehouse directory filled in.
const demoConfig = `# sluice.yaml written by "sluice demo". Point it at your own Kafka and S3:
# see the end of the demo's output.
warehouse: %s
kafka:
  brokers: [%q]
ingest:
  topics: 'demo\..*'
  max_batch_age: 30s
merge:
  tables_root: tables
`

// Demo shows the whole flow on one machine with nothing installed: an
// in-process Kafka (kfake), a local warehouse directory, and a generator of
// realistic PostgreSQL changes (Debezium envelopes) for three tables; then
// ingest and merge a few rounds, the SCD1 tables and the status.
func Demo(ctx context.Context, opts DemoOptions) (*DemoResult, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 3
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sluice-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo dir: %w", err)
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo dir: %w", err)
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]

	cfgText := fmt.Sprintf(demoConfig, filepath.Join(dir, "lake"), broker)
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	cfg, err := ParseConfig([]byte(cfgText), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	fmt.Fprintf(out, "sluice demo\n  embedded Kafka (kfake) at %s\n  warehouse     %s\n  config        %s\n\n", broker, cfg.Warehouse, cfgPath)

	producer, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0))
	if err != nil {
		return nil, fmt.Errorf("demo producer: %w", err)
	}
	defer producer.Close()

	gen := newDemoGenerator(opts.Seed)
	for round := 0; round <= opts.Rounds; round++ {
		txns := gen.round(round)
		n, err := produceDemo(ctx, producer, txns)
		if err != nil {
			return nil, err
		}
		rep, err := RunOnce(ctx, cfg, logger)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", round, err)
		}
		fmt.Fprintf(out, "round %d: %d transactions, %d changes produced → ingest %d records (raw v%d) → merge %s\n",
			round, len(txns), n, rep.Ingest.Records, rep.Ingest.CommitVersion, mergeSummary(rep.Merge))
	}
	fmt.Fprintln(out)

	res := &DemoResult{Dir: dir, Expected: map[string][]map[string]string{}, Actual: map[string][]map[string]string{}}
	for table, rows := range gen.expected() {
		for _, r := range rows {
			res.Expected[table] = append(res.Expected[table], textRow(r))
		}
	}
	lk, err := openLake(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	for _, name := range gen.order {
		dt := gen.tables[name]
		loc := tableLocation(cfg, dt.id.String())
		rows, cols, err := readSCD1(ctx, lk.warehouse, loc, dt)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", loc, err)
		}
		res.Actual[dt.id.String()] = rows
		fmt.Fprintf(out, "%s  (SCD1 table %s, %d rows)\n", dt.id, loc, len(rows))
		printRows(out, cols, rows)
		fmt.Fprintln(out)
	}
	st, err := GetStatus(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "sluice status:")
	if err := st.WriteText(out); err != nil {
		return nil, err
	}
	match := "the SCD1 tables equal the generator's final rows"
	if !equalTables(res.Expected, res.Actual) {
		match = "MISMATCH between the SCD1 tables and the generator's final rows"
	}
	fmt.Fprintf(out, "\ncheck: %s.\n", match)
	fmt.Fprintf(out, demoOutro, cfgPath, dir, filepath.Join(cfg.Warehouse, tableLocation(cfg, "shop.public.orders")))
	return res, nil
}

const demoOutro = `
The demo's config is %s; the lake stays in %s
(Delta tables: read them with DuckDB or Spark, or try "sluice describe %s").
The embedded Kafka stopped with the demo: "sluice status --config" on that file still
reads the lake, and reports Kafka as unreachable.

To run the same flow for real, point the config at your Kafka and S3 and let
capture produce the topics (or use Debezium):

  warehouse: s3://my-bucket/lake
  s3:
    region: eu-west-1                # credentials: the AWS default chain
  kafka:
    brokers: ["kafka-1:9092", "kafka-2:9092"]
    sasl: {mechanism: SCRAM-SHA-512, username: sluice, password: ${KAFKA_PASSWORD}}
    tls: {enabled: true}
  ingest:
    topics: 'shop\..*'
  sources:
    - name: shop
      type: postgres
      topic_prefix: shop
      dsn: ${SHOP_PG_DSN}            # secrets only from env or *_file

  sluice capture --config sluice.yaml          # long-running
  sluice run --config sluice.yaml --report -   # every few minutes, from cron or Airflow
  sluice status --config sluice.yaml

See examples/sluice.yaml (every setting, commented) and docs/config.md.
`

func mergeSummary(r *MergeReport) string {
	if r == nil {
		return "-"
	}
	var parts []string
	for _, t := range r.Tables {
		parts = append(parts, fmt.Sprintf("%s +%d ~%d -%d", t.Table[strings.LastIndex(t.Table, ".")+1:], t.RowsInserted, t.RowsUpdated, t.RowsDeleted))
	}
	if len(parts) == 0 {
		return "nothing new"
	}
	return strings.Join(parts, ", ")
}

// produceDemo writes the transactions' changes as Debezium envelopes
// (JsonConverter with schemas), keyed by primary key.
func produceDemo(ctx context.Context, cl *kgo.Client, txns [][]schemas.Change) (int, error) {
	var recs []*kgo.Record
	for _, tx := range txns {
		for i := range tx {
			c := &tx[i]
			k, err := schemas.EncodeKey(c, true)
			if err != nil {
				return 0, err
			}
			v, err := schemas.EncodeValue(c, true)
			if err != nil {
				return 0, err
			}
			recs = append(recs, &kgo.Record{Topic: c.Table.Topic("demo"), Key: k, Value: v, Timestamp: time.UnixMilli(c.Source.TsMs)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("produce: %w", err)
	}
	return len(recs), nil
}

// readSCD1 reads an SCD1 table's source columns, rows sorted by key.
func readSCD1(ctx context.Context, wh blob.Store, loc string, dt *demoTable) ([]map[string]string, []string, error) {
	tbl := lakelog.Open(blob.Sub(wh, loc), lakelog.Options{})
	snap, err := tbl.Snapshot(ctx)
	if errors.Is(err, lakelog.ErrNoTable) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	schema := snap.Schema()
	var cols []string
	for _, c := range dt.cols {
		cols = append(cols, c.Name)
	}
	type keyed struct {
		key string
		row map[string]string
	}
	var all []keyed
	for _, add := range snap.Files() {
		rows, err := dv.ReadFile(ctx, tbl.Store(), nil, add, schema)
		if err != nil {
			return nil, nil, err
		}
		for {
			vals, ok := rows.Next()
			if !ok {
				break
			}
			m := map[string]any{}
			for i, f := range schema.Fields {
				m[f.Name] = vals[i]
			}
			var keyRow []any
			for _, c := range dt.cols {
				keyRow = append(keyRow, m[c.Name])
			}
			all = append(all, keyed{dt.keyOf(keyRow), textRow(pick(m, cols))})
		}
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].key < all[j].key })
	out := make([]map[string]string, len(all))
	for i, k := range all {
		out[i] = k.row
	}
	return out, cols, nil
}

func pick(m map[string]any, cols []string) map[string]any {
	out := make(map[string]any, len(cols))
	for _, c := range cols {
		out[c] = m[c]
	}
	return out
}

// textRow renders values as text, timestamps in the generator's form, so
// that generated and read-back rows compare equal when they mean the same.
func textRow(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			out[k] = "NULL"
		case time.Time:
			out[k] = v.UTC().Format("2006-01-02T15:04:05.000Z")
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func equalTables(a, b map[string][]map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for t, ra := range a {
		rb := b[t]
		if len(ra) != len(rb) {
			return false
		}
		for i := range ra {
			if len(ra[i]) != len(rb[i]) {
				return false
			}
			for k, v := range ra[i] {
				if rb[i][k] != v {
					return false
				}
			}
		}
	}
	return true
}

func printRows(w io.Writer, cols []string, rows []map[string]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(cols, "\t"))
	for _, r := range rows {
		vals := make([]string, len(cols))
		for i, c := range cols {
			vals[i] = r[c]
		}
		fmt.Fprintln(tw, "  "+strings.Join(vals, "\t"))
	}
	tw.Flush()
}
