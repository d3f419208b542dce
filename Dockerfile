# sluice container image: one static binary on distroless, running as a
# non-root user. Every command is the same image with different arguments
# (docs/kubernetes.md):
#
#   docker build -t sluice:dev --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm sluice:dev version
#   docker run --rm -v $PWD/sluice.yaml:/etc/sluice/sluice.yaml:ro sluice:dev run --config /etc/sluice/sluice.yaml

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: a static binary that needs no libc, so it runs on distroless
# static. -buildvcs=false: the build context has no .git (.dockerignore).
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
	-ldflags "-s -w -X main.version=${VERSION}" -o /out/sluice ./cmd/sluice

# distroless/static has CA certificates (S3 and Kafka over TLS), tzdata and
# /etc/passwd with the nonroot user (65532), and no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice /usr/local/bin/sluice
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["--help"]
