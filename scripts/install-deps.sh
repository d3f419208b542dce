#!/usr/bin/env bash
# Installs everything the service-backed tests need, from nothing, on Debian 12:
#   - apt: mariadb-server-core, mariadb-client-core, kcat, zstd, curl
#     (PostgreSQL 15, Go, gcc and node/npm are expected to be present already)
#   - go install: versitygw (S3 server), pinned, into .cache/bin
#   - go build:   tests/cmd/kfakebroker (kfake Kafka broker), into .cache/bin
#   - npm:        tests/duckdb (@duckdb/node-api, pinned by package-lock.json)
# Idempotent: each step is skipped when its result is already there, so a
# second run takes a few seconds.
set -euo pipefail

# Pinned versions. Debian 12 fixes the apt packages' upstream versions
# (MariaDB 10.11, kcat 1.7.1); exact Debian revisions are not pinned because
# the archive drops superseded security releases.
VERSITYGW_VERSION=v1.8.0

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$REPO/.cache/bin"
mkdir -p "$BIN"

log() { printf 'install-deps: %s\n' "$*" >&2; }

have() {
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

# --- apt ---------------------------------------------------------------------
missing=()
have mariadbd || missing+=(mariadb-server-core)
have mariadb || missing+=(mariadb-client-core)
have kcat || missing+=(kcat)
have zstd || missing+=(zstd)
have curl || missing+=(curl) # testenv.sh's health checks and signed CreateBucket
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=()
	if [ "$(id -u)" != 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			log "need root or sudo to apt-get install ${missing[*]}"
			exit 1
		fi
		SUDO=(sudo)
	fi
	log "apt-get install ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

# --- versitygw ---------------------------------------------------------------
if ! go version -m "$BIN/versitygw" 2>/dev/null | grep -q "github.com/versity/versitygw[[:space:]]*$VERSITYGW_VERSION"; then
	log "go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION (2-3 min on a cold cache)"
	GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi

# --- kfakebroker (always rebuilt; the Go build cache makes this quick) -------
(cd "$REPO" && GOFLAGS=-buildvcs=false go build -o "$BIN/kfakebroker" ./tests/cmd/kfakebroker)

# --- DuckDB reader -----------------------------------------------------------
if [ ! -d "$REPO/tests/duckdb/node_modules/@duckdb/node-api" ]; then
	# Not `npm ci`: it insists on lock entries for every platform's optional
	# binding package, and the registry reachable here lacks the non-Linux ones.
	# `npm install --no-save` installs the locked versions (integrity-checked)
	# and leaves package-lock.json as committed.
	log "npm install in tests/duckdb (@duckdb/node-api, locked by package-lock.json)"
	(cd "$REPO/tests/duckdb" && npm install --no-audit --no-fund --no-save --loglevel=error >/dev/null)
fi

log "ready: mariadbd, kcat, $BIN/versitygw, $BIN/kfakebroker, tests/duckdb"
