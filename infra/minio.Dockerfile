# MinIO, the S3 server of docker-compose.yml, built from source: its community edition publishes no
# images any more. The version is a Go module version of github.com/minio/minio (the Go module proxy
# serves that repository's last commit under it); .ci/minio builds the same one for the tests.
#   docker build -f infra/minio.Dockerfile -t chronicle-minio .
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

FROM golang:1.26-bookworm AS build
ARG MINIO_VERSION
RUN CGO_ENABLED=0 GOBIN=/out go install "github.com/minio/minio@${MINIO_VERSION}"

FROM debian:12-slim
# curl for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 1000 --create-home minio \
 && mkdir -p /data && chown minio:minio /data
COPY --from=build /out/minio /usr/local/bin/minio
USER minio
VOLUME ["/data"]
EXPOSE 9000 9001
HEALTHCHECK --interval=5s --timeout=5s --retries=12 CMD ["curl", "-fsS", "http://127.0.0.1:9000/minio/health/live"]
ENTRYPOINT ["minio"]
CMD ["server", "/data", "--console-address", ":9001"]
