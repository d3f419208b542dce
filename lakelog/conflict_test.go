package lakelog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

// TestCommitDatadriven runs the scenarios in testdata/commit: commits made
// at some version while other writers win the versions in between, and the
// outcome (version, or conflict kind) the §1.8 rules prescribe.
//
// Commands:
//
//	create [appendOnly]          new table at version 0
//	commit                       commit the input's actions at the latest version
//	begin name=X                 start transaction X at the latest version (not committed)
//	commit-txn name=X            commit transaction X now
//	state                        live files, app versions and domains at the latest version
//
// Action lines: add <path> [nodata], remove <path> [nodata], txn <appId> <version>,
// domain <name> <config>, metadata [column=<name>], protocol <r> <w> [features...],
// read <path>..., read-whole.
func TestCommitDatadriven(t *testing.T) {
	datadriven.Walk(t, "testdata/commit", func(t *testing.T, path string) {
		ctx := context.Background()
		var table *Table
		txns := map[string]*Transaction{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "create":
				table = Open(memblob.New(), Options{})
				meta := Metadata{SchemaString: testSchema}
				proto := Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly", "domainMetadata"}}
				if d.HasArg("appendOnly") {
					meta.Configuration = map[string]string{"delta.appendOnly": "true"}
				}
				snap, err := table.Create(ctx, meta, proto)
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("version %d", snap.Version())
			case "begin", "commit":
				snap, err := table.Snapshot(ctx)
				if err != nil {
					t.Fatal(err)
				}
				tx := snap.Begin("WRITE")
				if err := applyScript(tx, snap, d.Input); err != nil {
					t.Fatalf("%s: %v", d.Pos, err)
				}
				if d.Cmd == "commit" {
					return commitOutcome(tx.Commit(ctx))
				}
				var name string
				d.ScanArgs(t, "name", &name)
				txns[name] = tx
				return fmt.Sprintf("read version %d", snap.Version())
			case "commit-txn":
				var name string
				d.ScanArgs(t, "name", &name)
				tx := txns[name]
				if tx == nil {
					t.Fatalf("%s: no transaction %q", d.Pos, name)
				}
				return commitOutcome(tx.Commit(ctx))
			case "state":
				snap, err := table.Snapshot(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				fmt.Fprintf(&b, "version %d\n", snap.Version())
				for _, f := range snap.Files() {
					fmt.Fprintf(&b, "file %s\n", f.Path)
				}
				for _, txn := range snap.Txns() {
					fmt.Fprintf(&b, "txn %s %d\n", txn.AppID, txn.Version)
				}
				for _, dm := range snap.Domains() {
					fmt.Fprintf(&b, "domain %s %s\n", dm.Domain, dm.Configuration)
				}
				if schema := snap.Schema(); len(schema.Fields) != 1 {
					fmt.Fprintf(&b, "columns %d\n", len(schema.Fields))
				}
				return b.String()
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
				return ""
			}
		})
	})
}

// testSchema is a one-column table schema.
const testSchema = `{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]}`

func commitOutcome(v int64, err error) string {
	var ce *ConflictError
	switch {
	case errors.As(err, &ce):
		if !errors.Is(err, ErrConflict) {
			return "conflict error that is not ErrConflict: " + err.Error()
		}
		return fmt.Sprintf("conflict %s at version %d", ce.Kind, ce.Version)
	case err != nil:
		return "error: " + err.Error()
	default:
		return fmt.Sprintf("version %d", v)
	}
}

// applyScript adds the actions described by script's lines to tx.
func applyScript(tx *Transaction, snap *Snapshot, script string) error {
	for _, line := range strings.Split(script, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		flag := func(name string) bool {
			for _, x := range f[1:] {
				if x == name {
					return true
				}
			}
			return false
		}
		switch f[0] {
		case "add":
			tx.Add(&Add{Path: f[1], Size: 100, ModificationTime: 1, DataChange: !flag("nodata"), Stats: `{"numRecords":10}`})
		case "remove":
			tx.RemoveFile(&Add{Path: f[1], Size: 100}, !flag("nodata"))
		case "txn":
			v, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				return err
			}
			tx.SetAppVersion(f[1], v)
		case "domain":
			tx.SetDomain(DomainMetadata{Domain: f[1], Configuration: f[2]})
		case "metadata":
			m := snap.Metadata()
			schema, err := ParseSchema(m.SchemaString)
			if err != nil {
				return err
			}
			for _, x := range f[1:] {
				if name, ok := strings.CutPrefix(x, "column="); ok {
					schema.Fields = append(schema.Fields, &StructField{Name: name, Type: TypeString, Nullable: true})
				}
			}
			m.SchemaString = schema.String()
			tx.SetMetadata(m)
		case "protocol":
			r, _ := strconv.Atoi(f[1])
			w, _ := strconv.Atoi(f[2])
			tx.SetProtocol(Protocol{MinReaderVersion: r, MinWriterVersion: w, WriterFeatures: f[3:]})
		case "read":
			tx.ReadFiles(f[1:]...)
		case "read-whole":
			tx.ReadWholeTable()
		default:
			return fmt.Errorf("unknown action %q", f[0])
		}
	}
	return nil
}
