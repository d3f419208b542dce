package tests

// Smoke tests of the services scripts/testenv.sh starts: each one proves the
// service is there and configured as the other suites assume (logical WAL,
// row binlog with metadata, a Kafka that a third-party client reads, an S3
// that checks signatures and honours If-None-Match, a working DuckDB).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/tests/testenv"
)

func TestHarnessPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)

	for _, tc := range []struct{ setting, want string }{
		{"wal_level", "logical"},
		{"max_replication_slots", "20"},
		{"server_version_num", "15"}, // prefix: PostgreSQL 15.x
	} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", tc.setting).Scan(&got); err != nil {
			t.Fatalf("current_setting(%s): %v", tc.setting, err)
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s = %q, want %q", tc.setting, got, tc.want)
		}
	}
}

func TestHarnessMariaDB(t *testing.T) {
	cfg := testenv.MySQL(t)
	conn, err := client.Connect(cfg.Addr, cfg.User, cfg.Password, "")
	if err != nil {
		t.Fatalf("connect %s as %s over TCP: %v", cfg.Addr, cfg.User, err)
	}
	defer conn.Close()

	res, err := conn.Execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@version")
	if err != nil {
		t.Fatalf("select binlog settings: %v", err)
	}
	want := []string{"1", "ROW", "FULL", "FULL", "MariaDB"}
	names := []string{"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "version"}
	for i, w := range want {
		got, err := res.GetString(0, i)
		if err != nil {
			t.Fatalf("read %s: %v", names[i], err)
		}
		if names[i] == "version" {
			if !strings.Contains(got, w) {
				t.Errorf("version = %q, want a MariaDB server", got)
			}
			continue
		}
		if got != w {
			t.Errorf("%s = %q, want %q", names[i], got, w)
		}
	}
}

// TestHarnessKafka checks the kfake broker against kcat (librdkafka), a
// client we did not write, in both directions.
func TestHarnessKafka(t *testing.T) {
	brokers := testenv.Kafka(t)
	kcat := testenv.Kcat(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const n = 20
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("k%02d=v%02d", i, i))
	}

	t.Run("franz-go to kcat", func(t *testing.T) {
		topic := testenv.UniqueName("harness_fk")
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatalf("new client: %v", err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{
				Topic: topic,
				Key:   fmt.Appendf(nil, "k%02d", i),
				Value: fmt.Appendf(nil, "v%02d", i),
			})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}

		cmd := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(brokers, ","), "-t", topic,
			"-o", "beginning", "-e", "-q", "-f", `%k=%s\n`)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kcat -C: %v\n%s", err, stderr.String())
		}
		got := strings.Fields(string(out))
		slices.Sort(got) // partitions interleave
		if !slices.Equal(got, want) {
			t.Errorf("kcat read %q, want %q", got, want)
		}
	})

	t.Run("kcat to franz-go", func(t *testing.T) {
		topic := testenv.UniqueName("harness_kf")
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, "k%02d:v%02d\n", i, i)
		}
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", strings.Join(brokers, ","), "-t", topic, "-K", ":")
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}

		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatalf("new client: %v", err)
		}
		defer cl.Close()
		var got []string
		for len(got) < n {
			fetches := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
			}
			if errs := fetches.Errors(); len(errs) > 0 {
				t.Fatalf("fetch: %v", errs[0].Err)
			}
			fetches.EachRecord(func(r *kgo.Record) {
				got = append(got, string(r.Key)+"="+string(r.Value))
			})
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("franz-go read %q, want %q", got, want)
		}
	})
}

// TestHarnessS3 proves versitygw is a real S3 for our purposes: a conditional
// PutObject refuses to overwrite (412), and a bad signature is refused (403).
func TestHarnessS3(t *testing.T) {
	cfg := testenv.S3(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	newClient := func(secret string) *s3.Client {
		return s3.New(s3.Options{
			BaseEndpoint: aws.String(cfg.Endpoint),
			UsePathStyle: true,
			Region:       cfg.Region,
			Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, secret, ""),
		})
	}
	cl := newClient(cfg.SecretKey)
	key := testenv.UniqueName("harness") + "/_delta_log/00000000000000000000.json"
	put := func(cl *s3.Client, body string) error {
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(cfg.Bucket),
			Key:         aws.String(key),
			Body:        strings.NewReader(body),
			IfNoneMatch: aws.String("*"),
		})
		return err
	}

	if err := put(cl, "first"); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	err := put(cl, "second")
	if got := httpStatus(err); got != http.StatusPreconditionFailed {
		t.Errorf("second conditional put: status %d (err %v), want 412", got, err)
	}

	obj, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	body, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if string(body) != "first" {
		t.Errorf("object body = %q, want %q (the refused put must not overwrite)", body, "first")
	}

	err = put(newClient(cfg.SecretKey+"x"), "forged")
	if got := httpStatus(err); got != http.StatusForbidden {
		t.Errorf("put with a wrong secret: status %d (err %v), want 403", got, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "SignatureDoesNotMatch" {
		t.Errorf("put with a wrong secret: code %q, want SignatureDoesNotMatch", apiErr.ErrorCode())
	}
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestHarnessDuckDB(t *testing.T) {
	rows := testenv.DuckDB(t, "select 42 as answer, 'sluice' as name")
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1: %v", len(rows), rows)
	}
	if got := fmt.Sprint(rows[0]["answer"]); got != "42" {
		t.Errorf("answer = %s, want 42", got)
	}
	if got := rows[0]["name"]; got != "sluice" {
		t.Errorf("name = %v, want sluice", got)
	}
}
