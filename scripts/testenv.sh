#!/usr/bin/env bash
# Starts and stops the real services sluice's tests run against, each a
# throwaway instance on a free loopback port with its data in a per-run state
# directory:
#   PostgreSQL 15 (wal_level=logical), MariaDB (row binlog, full image and
#   metadata), a kfake Kafka broker (tests/cmd/kfakebroker), versitygw (S3,
#   SigV4 checked) with one bucket, plus DuckDB (tests/duckdb) and kcat.
#
# Usage:
#   scripts/testenv.sh start              start all; print `export VAR=value` lines for eval
#   scripts/testenv.sh stop [STATE_DIR]   stop all; remove their data
#   scripts/testenv.sh run -- CMD [ARG]...  start, run CMD with the variables set, always stop;
#                                          exits with CMD's status
#   scripts/testenv.sh logs [STATE_DIR]   print the tail of each service log
#
#   eval "$(scripts/testenv.sh start)"; go test ./lakelog/...; scripts/testenv.sh stop
#
# Binaries come from scripts/install-deps.sh (run it first). The state
# directory lives under /tmp (not the repository) because PostgreSQL runs as
# user postgres, who may not be able to enter the clone's directory.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$REPO/.cache/bin"
PGBIN=${SLUICE_PGBIN:-/usr/lib/postgresql/15/bin}
STATE_ROOT=${SLUICE_TESTENV_ROOT:-/tmp/sluice-testenv}
CURRENT="$REPO/.cache/testenv/current" # the state dir of the last `start`
BUCKET=sluice-test
REGION=us-east-1
export PATH="$BIN:$PATH:/usr/sbin:/usr/local/sbin"

log() { printf 'testenv: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# as_postgres runs a PostgreSQL server binary: initdb and pg_ctl refuse root.
as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pick_port sets PORT to a free loopback port. Ports come from 20000-31999,
# below the kernel's ephemeral range, so outgoing connections do not take them
# between the check and the bind.
TAKEN=" "
pick_port() {
	local p i
	for i in $(seq 500); do
		p=$((20000 + RANDOM % 12000))
		case "$TAKEN" in *" $p "*) continue ;; esac
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			continue # something listens there
		fi
		TAKEN+="$p "
		PORT=$p
		return 0
	done
	die "no free loopback port found"
}

# wait_until NAME SECONDS PIDFILE CMD... polls CMD until it succeeds; fails
# early if the process in PIDFILE (when given) has exited.
wait_until() {
	local name=$1 secs=$2 pidfile=$3 i
	shift 3
	for ((i = 0; i < secs * 5; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if [ -n "$pidfile" ] && [ -s "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			log "$name exited during startup"
			return 1
		fi
		sleep 0.2
	done
	log "$name not ready after ${secs}s"
	return 1
}

# spawn LOG PIDFILE CMD... starts CMD in its own session (so a Ctrl-C in the
# terminal reaches the tests, not the services) with output to LOG.
spawn() {
	local logf=$1 pidfile=$2
	shift 2
	setsid "$@" >"$logf" 2>&1 </dev/null &
	echo $! >"$pidfile"
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

s3_curl() { # s3_curl ACCESS SECRET CURL-ARGS... (signed with SigV4, empty body)
	local ak=$1 sk=$2
	shift 2
	curl -sS -f -o /dev/null --aws-sigv4 "aws:amz:$REGION:s3" --user "$ak:$sk" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$@"
}

start_postgres() {
	local d=$S/pg
	pick_port
	PG_PORT=$PORT
	mkdir -p "$d"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "user postgres missing (install postgresql-15)"
		chown postgres: "$d"
	fi
	[ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 binaries not found in $PGBIN (set SLUICE_PGBIN)"
	(cd "$d" && as_postgres "$PGBIN/initdb" -D "$d/data" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 --no-sync >"$d/initdb.log" 2>&1) || {
		cat "$d/initdb.log" >&2
		die "initdb failed"
	}
	# go test ./... runs one package per CPU against this one server, each
	# with pools sized by its CPU count: room for many connections.
	(cd "$d" && as_postgres "$PGBIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 start \
		-o "-p $PG_PORT -k $d -c listen_addresses=127.0.0.1 -c wal_level=logical \
-c max_replication_slots=20 -c max_wal_senders=20 -c max_connections=400 -c fsync=off -c full_page_writes=off" \
		>"$d/pg_ctl.log" 2>&1) || die "PostgreSQL did not start (see $d/server.log)"
	head -1 "$d/data/postmaster.pid" >"$d/pid"
	wait_until PostgreSQL 60 "$d/pid" "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres
}

start_mariadb() {
	local d=$S/mysql user
	pick_port
	MY_PORT=$PORT
	user=$(id -un)
	mkdir -p "$d"
	mariadb-install-db --no-defaults --datadir="$d/data" --user="$user" \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		>"$d/install.log" 2>&1 || {
		cat "$d/install.log" >&2
		die "mariadb-install-db failed"
	}
	spawn "$d/server.log" "$d/pid" mariadbd --no-defaults --user="$user" --datadir="$d/data" \
		--socket="$d/sock" --pid-file="$d/mariadbd.pid" --bind-address=127.0.0.1 --port="$MY_PORT" \
		--skip-name-resolve --server-id=1 --log-bin="$d/data/binlog" --binlog-format=ROW \
		--binlog-row-image=FULL --binlog-row-metadata=FULL --innodb-flush-log-at-trx-commit=0 \
		--sync-binlog=0 --innodb-buffer-pool-size=64M --innodb-log-file-size=8M --max-connections=500
}

wait_mariadb() {
	# A root login over TCP is what the tests do; mariadb-admin is not in the core packages.
	wait_until MariaDB 60 "$S/mysql/pid" \
		mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MY_PORT" -u root -e 'select 1'
}

start_kafka() {
	local d=$S/kafka
	pick_port
	KAFKA_PORT=$PORT
	mkdir -p "$d"
	[ -x "$BIN/kfakebroker" ] || die "$BIN/kfakebroker missing: run scripts/install-deps.sh"
	spawn "$d/server.log" "$d/pid" "$BIN/kfakebroker" -addr "127.0.0.1:$KAFKA_PORT" -partitions 3
}

wait_kafka() {
	wait_until Kafka 30 "$S/kafka/pid" grep -q '^kfakebroker ready' "$S/kafka/server.log"
	wait_until Kafka 10 "$S/kafka/pid" tcp_open "$KAFKA_PORT"
}

start_s3() {
	local d=$S/s3
	pick_port
	S3_PORT=$PORT
	mkdir -p "$d/data"
	[ -x "$BIN/versitygw" ] || die "$BIN/versitygw missing: run scripts/install-deps.sh"
	S3_ACCESS=SLUICE$(od -An -tx1 -N7 /dev/urandom | tr -d ' \n' | tr a-f A-F)
	S3_SECRET=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
	ROOT_ACCESS_KEY=$S3_ACCESS ROOT_SECRET_KEY=$S3_SECRET \
		spawn "$d/server.log" "$d/pid" "$BIN/versitygw" --port "127.0.0.1:$S3_PORT" \
		--health /health posix "$d/data"
}

wait_s3() {
	wait_until versitygw 30 "$S/s3/pid" curl -sf -o /dev/null "http://127.0.0.1:$S3_PORT/health"
	# CreateBucket through the API, so versitygw records the bucket's owner and
	# ACL; then HeadBucket proves the signed path works end to end.
	s3_curl "$S3_ACCESS" "$S3_SECRET" -X PUT "http://127.0.0.1:$S3_PORT/$BUCKET" ||
		die "versitygw: CreateBucket $BUCKET failed (see $S/s3/server.log)"
	s3_curl "$S3_ACCESS" "$S3_SECRET" -I "http://127.0.0.1:$S3_PORT/$BUCKET" ||
		die "versitygw: HeadBucket $BUCKET failed"
}

check_duckdb() {
	local out
	[ -d "$REPO/tests/duckdb/node_modules/@duckdb/node-api" ] ||
		die "tests/duckdb/node_modules missing: run scripts/install-deps.sh"
	out=$(echo 'select 42 as x' | node "$REPO/tests/duckdb/query.mjs") || die "DuckDB reader failed"
	[ "$out" = '[{"x":42}]' ] || die "DuckDB reader printed $out, want [{\"x\":42}]"
}

# write_env writes the variables the tests read (tests/testenv) to $S/env.
write_env() {
	local kcat
	kcat=$(command -v kcat) || die "kcat missing: run scripts/install-deps.sh"
	{
		printf 'export %s=%q\n' \
			SLUICE_TEST_STATE_DIR "$S" \
			SLUICE_TEST_PG_DSN "postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable" \
			SLUICE_TEST_MYSQL_ADDR "127.0.0.1:$MY_PORT" \
			SLUICE_TEST_MYSQL_USER root \
			SLUICE_TEST_MYSQL_PASSWORD "" \
			SLUICE_TEST_KAFKA "127.0.0.1:$KAFKA_PORT" \
			SLUICE_TEST_S3_URL "http://127.0.0.1:$S3_PORT" \
			SLUICE_TEST_S3_BUCKET "$BUCKET" \
			SLUICE_TEST_S3_REGION "$REGION" \
			SLUICE_TEST_S3_ACCESS_KEY "$S3_ACCESS" \
			SLUICE_TEST_S3_SECRET_KEY "$S3_SECRET" \
			SLUICE_TEST_DUCKDB "$REPO/tests/duckdb/query.mjs" \
			SLUICE_TEST_KCAT "$kcat"
		local svc
		for svc in pg mysql kafka s3; do
			printf 'export %s=%q\n' \
				"SLUICE_TEST_${svc^^}_LOG" "$S/$svc/server.log" \
				"SLUICE_TEST_${svc^^}_PID" "$(cat "$S/$svc/pid")"
		done
	} >"$S/env"
	chmod 600 "$S/env"
}

start_all() {
	mkdir -p "$STATE_ROOT" "$REPO/.cache/testenv"
	chmod 755 "$STATE_ROOT"
	S=$STATE_ROOT/run-$$
	rm -rf "$S"
	mkdir -m 755 "$S"
	echo "$S" >"$CURRENT"
	# On any failure, stop what was started and show why.
	trap 'rc=$?; if [ $rc != 0 ]; then print_logs "$S"; stop_dir "$S"; fi' EXIT
	log "starting services in $S"
	# versitygw, kfakebroker and mariadbd come up in the background while
	# PostgreSQL's initdb runs.
	start_s3
	start_kafka
	start_mariadb
	start_postgres
	wait_mariadb
	wait_kafka
	wait_s3
	check_duckdb
	write_env
	trap - EXIT
	log "ready: PostgreSQL :$PG_PORT, MariaDB :$MY_PORT, Kafka :$KAFKA_PORT, S3 :$S3_PORT"
}

# stop_pid NAME PIDFILE MARKER: SIGTERM, wait up to 30 s, then SIGKILL. The
# process's command line must contain MARKER, so a reused PID is never hit.
stop_pid() {
	local name=$1 pidfile=$2 marker=$3 pid i
	[ -s "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill -0 "$pid" 2>/dev/null || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	log "$name (pid $pid) ignored SIGTERM; killing"
	kill -KILL "$pid" 2>/dev/null || true
}

stop_dir() {
	local s=$1
	[ -d "$s" ] || return 0
	case "$s" in "$STATE_ROOT"/run-*) ;; *) die "refusing to stop $s: not under $STATE_ROOT" ;; esac
	if [ -f "$s/pg/data/postmaster.pid" ]; then
		(cd "$s/pg" && as_postgres "$PGBIN/pg_ctl" -D "$s/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1) ||
			stop_pid PostgreSQL "$s/pg/pid" "postgres"
	fi
	stop_pid MariaDB "$s/mysql/pid" "$s/mysql" &
	stop_pid Kafka "$s/kafka/pid" kfakebroker &
	stop_pid versitygw "$s/s3/pid" "$s/s3" &
	wait
	rm -rf "$s"
	if [ -f "$CURRENT" ] && [ "$(cat "$CURRENT")" = "$s" ]; then
		rm -f "$CURRENT"
	fi
	log "stopped; removed $s"
}

print_logs() {
	local s=$1 f
	for f in "$s"/pg/server.log "$s"/mysql/server.log "$s"/kafka/server.log "$s"/s3/server.log; do
		[ -f "$f" ] || continue
		printf '\n===== tail of %s =====\n' "$f" >&2
		tail -n 30 "$f" >&2
	done
}

state_dir_arg() {
	local s=${1:-${SLUICE_TEST_STATE_DIR:-}}
	if [ -z "$s" ] && [ -f "$CURRENT" ]; then
		s=$(cat "$CURRENT")
	fi
	[ -n "$s" ] || die "no state dir: pass one, or set SLUICE_TEST_STATE_DIR"
	echo "$s"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start)
	start_all
	cat "$S/env"
	;;
stop)
	stop_dir "$(state_dir_arg "${1:-}")"
	;;
logs)
	print_logs "$(state_dir_arg "${1:-}")"
	;;
run)
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || die "usage: $0 run -- CMD [ARG]..."
	start_all
	trap 'stop_dir "$S"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# shellcheck disable=SC1091
	. "$S/env"
	rc=0
	"$@" || rc=$?
	if [ $rc != 0 ]; then
		log "command exited $rc; service logs follow"
		print_logs "$S"
	fi
	exit $rc
	;;
*)
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
