package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/merge"
	"github.com/sluicehq/sluice/schemas"
)

func TestConfigMapsOntoComponents(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "kafka.pw")
	if err := os.WriteFile(pwFile, []byte("from-file-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`
warehouse: %s
kafka:
  brokers: ["k1:9092", "k2:9093"]
  sasl: {mechanism: SCRAM-SHA-512, username: bob, password_file: %s}
ingest:
  topics: 'shop\..*'
  exclude: 'shop\.tmp\..*'
  target_file_mb: 64
  max_batch_age: 90s
  max_dead_letter_ratio: 0.25
  on_offset_reset: restart
  group_id: g1
  max_buffer_mb: 100
  fetch_max_mb: 8
  worker: 1
  workers: 3
raw: {dead_letter_table: dl/x}
merge:
  tables_root: scd
  delete_mode: soft
  tombstone_retention: 48h
  target_file_rows: 5000
  tables:
    - {source: shop.public.t, location: elsewhere/t, delete_mode: hard, key: [a, b], deletion_vectors: true}
`, dir, pwFile)
	cfg, err := ParseConfig([]byte(text), lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	ic, err := ingestConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ic.Brokers, []string{"k1:9092", "k2:9093"}) || ic.TopicRegex != `shop\..*` ||
		ic.TargetFileBytes != 64<<20 || ic.MaxBatchAge != 90*time.Second || ic.MaxDeadLetterRatio != 0.25 ||
		ic.OnOffsetReset != "restart" || ic.GroupID != "g1" || ic.DeadLetterTable != "dl/x" {
		t.Errorf("ingest config = %+v", ic)
	}
	if ic.MaxBufferBytes != 100<<20 || ic.FetchMaxBytes != 8<<20 || ic.Worker != 1 || ic.Workers != 3 {
		t.Errorf("ingest memory/worker config = buffer %d fetch %d worker %d of %d", ic.MaxBufferBytes, ic.FetchMaxBytes, ic.Worker, ic.Workers)
	}
	if ic.Kafka.SASLMechanism != "SCRAM-SHA-512" || ic.Kafka.SASLUser != "bob" || ic.Kafka.SASLPassword != "from-file-pw" || ic.Kafka.TLS != nil {
		t.Errorf("ingest kafka auth = %s (password from file: %v)", ic.Kafka, ic.Kafka.SASLPassword == "from-file-pw")
	}
	// The user's exclude and capture's positions topics are both excluded.
	for topic, want := range map[string]bool{"shop.tmp.x": true, "shop.sluice.positions": true, "shop.public.orders": false} {
		if got := fullMatch(t, ic.ExcludeRegex, topic); got != want {
			t.Errorf("exclude %q matches %s = %v, want %v", ic.ExcludeRegex, topic, got, want)
		}
	}
	kc, err := captureKafka(cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	if kc.SASLPassword != "from-file-pw" || kc.SASLUser != "bob" || len(kc.Brokers) != 2 || kc.TLS {
		t.Errorf("capture kafka = %v", kc)
	}
	mc := mergeConfig(cfg, []string{"shop.public.t"})
	want := merge.TableConfig{Location: "elsewhere/t", DeleteMode: "hard", Key: []string{"a", "b"}, DeletionVectors: true}
	if mc.TablesRoot != "scd" || mc.DeleteMode != "soft" || mc.TombstoneRetention != 48*time.Hour || mc.TargetFileRows != 5000 ||
		!reflect.DeepEqual(mc.Tables["shop.public.t"], want) || !reflect.DeepEqual(mc.Only, []string{"shop.public.t"}) {
		t.Errorf("merge config = %+v", mc)
	}
	if got := tableLocation(cfg, "shop.public.t"); got != "elsewhere/t" {
		t.Errorf("location override = %q", got)
	}
	if got := tableLocation(cfg, "shop.public.u"); got != "scd/shop/u" {
		t.Errorf("default location = %q, want scd/shop/u", got)
	}
}

func fullMatch(t *testing.T, re, s string) bool {
	t.Helper()
	r, err := regexpCompileAnchored(re)
	if err != nil {
		t.Fatal(err)
	}
	return r.MatchString(s)
}

func TestMissingSecretFileNamesTheField(t *testing.T) {
	cfg, err := ParseConfig([]byte("warehouse: /x\nkafka: {brokers: ['a:1'], sasl: {mechanism: PLAIN, username: u, password_file: /nonexistent/pw}}\n"), lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ingestConfig(cfg)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "kafka.sasl.password_file" || ExitCode(err) != ExitUsage {
		t.Errorf("err = %v (exit %d), want a usage FieldError naming kafka.sasl.password_file", err, ExitCode(err))
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"dead letters", fmt.Errorf("ingest: %w", fmt.Errorf("%w: 5 of 10", ingest.ErrDeadLetterRatio)), ExitDataQuality},
		{"offset reset", fmt.Errorf("ingest: %w", &ingest.OffsetResetError{Topic: "t"}), ExitNeedsAction},
		{"position lost", fmt.Errorf("capture a: %w", capture.ErrPositionLost), ExitNeedsAction},
		{"unsupported", &lakelog.UnsupportedFeatureError{Feature: "deletionVectors", Reader: true}, ExitNeedsAction},
		{"incompatible schema", fmt.Errorf("merge: %w", &schemas.IncompatibleChangeError{Column: "c"}), ExitNeedsAction},
		{"conflict", fmt.Errorf("commit: %w", lakelog.ErrConflict), ExitRetryable},
		{"commit attempts", fmt.Errorf("commit: %w", lakelog.ErrCommitAttempts), ExitRetryable},
		{"transient store", fmt.Errorf("put: %w", transientErr{}), ExitRetryable},
		{"kafka retriable", fmt.Errorf("list: %w", kerr.NotLeaderForPartition), ExitRetryable},
		{"kafka fatal", fmt.Errorf("list: %w", kerr.TopicAuthorizationFailed), ExitFailed},
		{"dial", fmt.Errorf("kafka: %w", dialErr(t)), ExitRetryable},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), ExitRetryable},
		{"usage", UsageError(errors.New("bad flag")), ExitUsage},
		{"no table", fmt.Errorf("x: %w", lakelog.ErrNoTable), ExitUsage},
		{"other", errors.New("boom"), ExitFailed},
		{"nil", nil, ExitOK},
	} {
		if got := ExitCode(tc.err, Classify); got != tc.want {
			t.Errorf("%s: exit %d, want %d (%v)", tc.name, got, tc.want, tc.err)
		}
	}
}

type transientErr struct{}

func (transientErr) Error() string   { return "503 slow down" }
func (transientErr) Transient() bool { return true }

// dialErr is what the net package returns for a port nobody listens on.
func dialErr(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d netDialer
	_, err := d.DialContext(ctx, "tcp", "127.0.0.1:1")
	if err == nil {
		t.Skip("something listens on port 1")
	}
	return err
}

// Every yaml key of Config must be documented in docs/config.md.
func TestConfigDocumentsEveryField(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() == "time" {
			return
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			name := prefix + tag
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("docs/config.md does not document `%s`", name)
			}
			walk(name+".", f.Type)
		}
	}
	walk("", reflect.TypeOf(Config{}))
}

type netDialer = net.Dialer

func regexpCompileAnchored(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}
