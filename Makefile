# sluice developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /usr/bin/env bash
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: test test-unit build vet fmt demo bench deps services-start services-stop

# Installs (apt, go install, npm ci: first run needs root or sudo), starts
# PostgreSQL, MariaDB, kfake, versitygw, runs every package against them,
# stops them, and exits with go test's status.
test: deps
	scripts/testenv.sh run -- $(GO) test -count=1 -timeout 45m ./...

# Unit tests only: tests needing a service skip (they fail under CI=true).
test-unit:
	$(GO) test ./...

deps:
	@scripts/install-deps.sh

# The long end-to-end run: many seeds, hundreds of kills and faults
# (SLUICE_SOAK=1 raises the counts of tests/; see docs/testing.md).
soak: deps
	SLUICE_SOAK=1 scripts/testenv.sh run -- $(GO) test -count=1 -timeout 3h -v -run 'TestFault|TestCrash|TestE2E' ./tests/

build:
	$(GO) build -o bin/sluice ./cmd/sluice

vet:
	$(GO) vet ./...

fmt:
	$(GO) fmt ./...

demo:
	$(GO) run ./cmd/sluice demo

# Runs every benchmark (found in the _test.go files) with the services
# started, and writes BENCHMARKS.md (docs/testing.md, "Benchmarks").
# BENCH_FULL=1 runs the full-size variants; BENCH_ARGS passes more flags,
# e.g. BENCH_ARGS='-count 3 -pkg merge'.
BENCHTIME ?= 1s
BENCH_COUNT ?= 1
bench: deps
	scripts/testenv.sh run -- $(GO) run ./tests/cmd/benchreport -o BENCHMARKS.md \
		-benchtime $(BENCHTIME) -count $(BENCH_COUNT) $(if $(filter 1,$(BENCH_FULL)),-full) $(BENCH_ARGS)

# Start the services for a shell session: eval "$(make -s services-start)"
services-start: deps
	@scripts/testenv.sh start

services-stop:
	scripts/testenv.sh stop
