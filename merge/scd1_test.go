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

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/schemas"
)

// scd1Env is the state of one datadriven test file: a raw table and a
// warehouse in memory, and the source table definitions.
type scd1Env struct {
	raw       *testRaw
	warehouse blob.Store
	tables    map[string]*testTable // by short name
	cfg       Config
}

type testTable struct {
	id   schemas.TableID
	cols []schemas.Column
	key  []string
}

func newSCD1Env(t testing.TB) *scd1Env {
	rawStore := memblob.New()
	return &scd1Env{
		raw:       newTestRaw(t, rawStore),
		warehouse: memblob.New(),
		tables:    map[string]*testTable{},
		cfg: Config{
			TablesRoot: "lake",
			Tables:     map[string]TableConfig{},
			Now:        func() time.Time { return time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC) },
		},
	}
}

// TestSCD1 runs the golden files in testdata/scd1. Commands:
//
//	schema table=db.schema.table [soft] [nokey] [dv]   input: "name type [key]" lines
//	raw [schemaless]        input: events "<table> <op> <lsn> [before(k=v,…)] k=v …"
//	                        (op t: a TRUNCATE, no columns)
//	merge [only=name] [now=RFC3339]
//	table name=db.schema.table [tombstones]  prints the rows sorted by key
//	files name=db.schema.table  prints the protocol and each file's
//	                        physical rows, DV and live rows (scd1_dv_test.go)
func TestSCD1(t *testing.T) {
	datadriven.Walk(t, "testdata/scd1", func(t *testing.T, path string) {
		env := newSCD1Env(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := env.do(t, d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

func (e *scd1Env) do(t *testing.T, d *datadriven.TestData) (string, error) {
	ctx := context.Background()
	switch d.Cmd {
	case "schema":
		var name string
		d.ScanArgs(t, "table", &name)
		parts := strings.Split(name, ".")
		id := schemas.TableID{Database: parts[0], Table: parts[len(parts)-1]}
		if len(parts) == 3 {
			id.Schema = parts[1]
		}
		tt := &testTable{id: id}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			c, key, err := testColumn(line)
			if err != nil {
				return "", err
			}
			tt.cols = append(tt.cols, c)
			if key && !d.HasArg("nokey") {
				tt.key = append(tt.key, c.Name)
			}
		}
		e.tables[id.Table] = tt
		tc := TableConfig{DeletionVectors: d.HasArg("dv")}
		if d.HasArg("soft") {
			tc.DeleteMode = DeleteSoft
		}
		e.cfg.Tables[id.String()] = tc
		return "ok\n", nil
	case "raw":
		var changes []*schemas.Change
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			c, err := e.parseEvent(line)
			if err != nil {
				return "", err
			}
			changes = append(changes, c)
		}
		v, err := e.raw.append(ctx, changes, !d.HasArg("schemaless"))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("raw version %d: %d events\n", v, len(changes)), nil
	case "merge":
		cfg := e.cfg
		if d.HasArg("only") {
			var only string
			d.ScanArgs(t, "only", &only)
			cfg.Only = []string{only}
		}
		if d.HasArg("now") {
			var s string
			d.ScanArgs(t, "now", &s)
			now, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return "", err
			}
			cfg.Now = func() time.Time { return now }
		}
		if d.HasArg("target") {
			d.ScanArgs(t, "target", &cfg.TargetFileRows)
		}
		if d.HasArg("retention") {
			var s string
			d.ScanArgs(t, "retention", &s)
			r, err := time.ParseDuration(s)
			if err != nil {
				return "", err
			}
			cfg.TombstoneRetention = r
		}
		rep, runErr := Run(ctx, e.raw.table, e.warehouse, cfg, nil)
		if rep == nil {
			return "", runErr
		}
		var b strings.Builder
		for _, tr := range rep.Tables {
			if tr.Err != nil {
				fmt.Fprintf(&b, "%s: error: %v\n", tr.Table, tr.Err)
				continue
			}
			fmt.Fprintf(&b, "%s: raw (%d,%d] read %d applied %d skipped %d; +%d ~%d -%d; rewritten %d; files +%d -%d\n",
				tr.Table, tr.FromRawVersion, tr.ToRawVersion, tr.ChangesRead, tr.ChangesApplied, tr.ChangesSkipped,
				tr.RowsInserted, tr.RowsUpdated, tr.RowsDeleted, tr.RowsRewritten, tr.FilesAdded, tr.FilesRemoved)
			if tr.RowsScanned > 0 || tr.FilesDeletionVectored > 0 {
				fmt.Fprintf(&b, "  key columns scanned %d; deletion vectors: %d files, +%d rows\n", tr.RowsScanned, tr.FilesDeletionVectored, tr.RowsDeletionVectored)
			}
		}
		if runErr != nil && b.Len() == 0 {
			return "", runErr
		}
		return b.String(), nil
	case "table":
		var name string
		d.ScanArgs(t, "name", &name)
		loc := e.locationOf(name)
		if d.HasArg("tombstones") {
			loc += "/" + tombstoneDir
		}
		return dumpTable(ctx, lakelog.Open(blob.Sub(e.warehouse, loc), lakelog.Options{}))
	case "files":
		var name string
		d.ScanArgs(t, "name", &name)
		return dumpFiles(ctx, lakelog.Open(blob.Sub(e.warehouse, e.locationOf(name)), lakelog.Options{}))
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func (e *scd1Env) locationOf(name string) string {
	for _, tt := range e.tables {
		if tt.id.String() == name {
			return DefaultLocation(e.cfg.TablesRoot, tt.id)
		}
	}
	return name
}

// parseEvent parses "<table> <op> <lsn> [before(k=v,…)] k=v …".
func (e *scd1Env) parseEvent(line string) (*schemas.Change, error) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return nil, fmt.Errorf("event %q: want <table> <op> <lsn> …", line)
	}
	tt, ok := e.tables[f[0]]
	if !ok {
		return nil, fmt.Errorf("event %q: unknown table %q", line, f[0])
	}
	op, err := schemas.ParseOp(f[1])
	if err != nil {
		return nil, err
	}
	lsn, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("event %q: lsn: %w", line, err)
	}
	c := &schemas.Change{
		Table: tt.id, Op: op, Columns: tt.cols, Key: tt.key,
		Source: schemas.Source{Connector: schemas.ConnectorPostgres, Name: "srv", DB: tt.id.Database, Schema: tt.id.Schema, Table: tt.id.Table,
			TsMs: 1700000000000 + int64(lsn)*1000, CommitLSN: lsn, LSN: lsn},
		TsMs: 1700000000000 + int64(lsn)*1000,
	}
	if op == schemas.OpTruncate {
		// as PostgreSQL capture sends it: no row images, a null Kafka key
		c.Key = nil
		return c, nil
	}
	image := func(assigns []string) ([]any, error) {
		row := make([]any, len(tt.cols))
		for _, a := range assigns {
			k, v, _ := strings.Cut(a, "=")
			i := slices.IndexFunc(tt.cols, func(c schemas.Column) bool { return c.Name == k })
			if i < 0 {
				return nil, fmt.Errorf("event %q: unknown column %q", line, k)
			}
			val, err := testValue(tt.cols[i], v)
			if err != nil {
				return nil, fmt.Errorf("event %q: column %q: %w", line, k, err)
			}
			row[i] = val
		}
		return row, nil
	}
	rest := f[3:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "before(") {
		b, err := image(strings.Split(strings.TrimSuffix(strings.TrimPrefix(rest[0], "before("), ")"), ","))
		if err != nil {
			return nil, err
		}
		c.Before = b
		rest = rest[1:]
	}
	row, err := image(rest)
	if err != nil {
		return nil, err
	}
	if op == schemas.OpDelete {
		c.Before = row
	} else {
		c.After = row
	}
	return c, nil
}

// dumpTable prints the schema and the rows of a Delta table sorted by
// their printed form (key columns first), without _sluice_merged_at.
func dumpTable(ctx context.Context, tbl *lakelog.Table) (string, error) {
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var cols []string
	var skip []bool
	for _, f := range snap.Schema().Fields {
		skip = append(skip, f.Name == ColMergedAt || f.Name == colDeletedAt)
		if f.Name == ColMergedAt || f.Name == colDeletedAt {
			continue
		}
		null := ""
		if !f.Nullable {
			null = " not null"
		}
		cols = append(cols, f.Name+" "+f.Type.TypeName()+null)
	}
	fmt.Fprintf(&b, "schema: %s\n", strings.Join(cols, ", "))
	var lines []string
	err = readRows(ctx, tbl.Store(), snap.Files(), snap.Schema(), func(row []any) {
		var vals []string
		for i, v := range row {
			if skip[i] {
				continue
			}
			vals = append(vals, formatValue(v, snap.Schema().Fields[i].Type))
		}
		lines = append(lines, strings.Join(vals, " | "))
	})
	if err != nil {
		return "", err
	}
	slices.Sort(lines)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "(%d rows, %d files)\n", len(lines), len(snap.Files()))
	return b.String(), nil
}

func formatValue(v any, t lakelog.DataType) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		if len(x) == 33 && x[0] == 'P' {
			// a PostgreSQL ordering key: show the LSN
			n, err := strconv.ParseUint(x[17:], 16, 64)
			if err == nil {
				return "@" + strconv.FormatUint(n, 10)
			}
		}
		return x
	case *big.Int:
		if p, ok := t.(*lakelog.PrimitiveType); ok {
			return new(big.Rat).SetFrac(x, pow10(p.Scale)).FloatString(p.Scale)
		}
		return x.String()
	case time.Time:
		if t.TypeName() == "date" {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}
