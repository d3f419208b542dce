// Package testenv gives tests the addresses of the real services that the
// test harness (scripts/testenv.sh, run by `make test`) starts: PostgreSQL,
// MariaDB, a kfake Kafka broker, versitygw (S3), DuckDB and kcat.
//
// Every accessor takes the test and returns the service's address. When the
// service's variable is unset the test is skipped with a message naming the
// command that starts it, except under CI=true, where a missing service is a
// test failure, never a skip.
package testenv
