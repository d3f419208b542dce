package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Require returns the value of the environment variable name, which the
// harness sets for service. If it is unset the test is skipped, or fails
// under CI=true.
func Require(t testing.TB, service, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := service + " not available: " + name + " is unset (run `make test`, or `eval $(scripts/testenv.sh start)` then go test)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// PostgresDSN returns a libpq URL of the harness's PostgreSQL 15 (superuser
// postgres, wal_level=logical), for the database "postgres". Tests that need
// isolation create their own database with NewPostgresDB.
func PostgresDSN(t testing.TB) string {
	return Require(t, "PostgreSQL", "SLUICE_TEST_PG_DSN")
}

// MySQLConfig addresses the harness's MariaDB (row binlog, full row image,
// binlog_row_metadata=FULL).
type MySQLConfig struct {
	Addr     string // host:port
	User     string
	Password string
}

// MySQL returns the harness's MariaDB address and root credentials.
func MySQL(t testing.TB) MySQLConfig {
	addr := Require(t, "MariaDB", "SLUICE_TEST_MYSQL_ADDR")
	user := os.Getenv("SLUICE_TEST_MYSQL_USER")
	if user == "" {
		user = "root"
	}
	return MySQLConfig{Addr: addr, User: user, Password: os.Getenv("SLUICE_TEST_MYSQL_PASSWORD")}
}

// Kafka returns the seed brokers of the harness's kfake cluster. Topics are
// auto-created; give each test its own topic names (UniqueName).
func Kafka(t testing.TB) []string {
	return strings.Split(Require(t, "Kafka (kfake)", "SLUICE_TEST_KAFKA"), ",")
}

// S3Config addresses the harness's versitygw S3 server.
type S3Config struct {
	Endpoint  string // http://127.0.0.1:port
	Bucket    string // exists at start
	Region    string
	AccessKey string
	SecretKey string
}

// S3 returns the harness's S3 endpoint and credentials. Use a unique key
// prefix per test (UniqueName) inside the shared bucket.
func S3(t testing.TB) S3Config {
	return S3Config{
		Endpoint:  Require(t, "S3 (versitygw)", "SLUICE_TEST_S3_URL"),
		Bucket:    Require(t, "S3 (versitygw)", "SLUICE_TEST_S3_BUCKET"),
		Region:    envOr("SLUICE_TEST_S3_REGION", "us-east-1"),
		AccessKey: Require(t, "S3 (versitygw)", "SLUICE_TEST_S3_ACCESS_KEY"),
		SecretKey: Require(t, "S3 (versitygw)", "SLUICE_TEST_S3_SECRET_KEY"),
	}
}

// Kcat returns the path of Debian's kcat binary.
func Kcat(t testing.TB) string {
	return Require(t, "kcat", "SLUICE_TEST_KCAT")
}

// DuckDB runs sql in a fresh in-memory DuckDB (npm @duckdb/node-api) and
// returns the rows of the last statement as JSON-decoded maps. Numbers come
// back as json.Number; BIGINT/HUGEINT/DECIMAL values as strings or numbers as
// DuckDB's JSON conversion renders them.
func DuckDB(t testing.TB, sql string) []map[string]any {
	t.Helper()
	script := Require(t, "DuckDB", "SLUICE_TEST_DUCKDB")
	cmd := exec.Command("node", script)
	cmd.Stdin = strings.NewReader(sql)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("duckdb: %v\nsql: %s\nstderr: %s", err, sql, errb.String())
	}
	var rows []map[string]any
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("duckdb: decode output: %v\n%s", err, out.String())
	}
	return rows
}

// UniqueName returns prefix plus a random suffix of lowercase hex, safe for
// database, topic and key-prefix names.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
