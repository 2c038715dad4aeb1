# syntax=docker/dockerfile:1
# agente-caddy image: one static binary on distroless, non-root (uid 1000),
# serving Caddyfile.staging. Build: `make docker-build`; run: `make docker-up`.

ARG GO_VERSION=1.26

# ---------------------------------------------------------------- build
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Static: no libc at run time, nothing for a scanner to find in it.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/agente-caddy ./cmd/agente-caddy
# The final image has no shell, so the directories uid 1000 writes to are
# made here: Caddy's storage (certificates, local CA), its autosaved config,
# and the files the init services render for Prometheus and Alertmanager.
RUN mkdir -p /out/data /out/config /out/rendered \
 && chown -R 1000:1000 /out/data /out/config /out/rendered

# ---------------------------------------------------------------- backup
# `agente-caddy backup` runs pg_dump and pg_restore, which must be at least
# the server's major version: the client programs of the very image the
# compose stack runs Postgres from (compose.yaml's postgres service; a test
# keeps the two majors equal). Built only as compose's `backup` service
# (target: backup); the runtime image below stays distroless.
FROM postgres:16-alpine AS backup
COPY --from=build /out/agente-caddy /usr/local/bin/agente-caddy
RUN adduser -D -H -u 1000 agente \
 && mkdir -p /backups && chown 1000:1000 /backups
ENV HOME=/tmp BACKUP_DIR=/backups
USER 1000:1000
VOLUME ["/backups"]
ENTRYPOINT ["/usr/local/bin/agente-caddy"]
CMD ["backup", "--dir", "/backups", "--every", "24h", "--keep", "7"]

# ---------------------------------------------------------------- runtime
FROM gcr.io/distroless/static-debian12 AS runtime
COPY --from=build /out/agente-caddy /usr/local/bin/agente-caddy
COPY Caddyfile.staging Caddyfile /etc/agente-caddy/
COPY caddy/ /etc/agente-caddy/caddy/
COPY --from=build --chown=1000:1000 /out/data /data
COPY --from=build --chown=1000:1000 /out/config /config
COPY --from=build --chown=1000:1000 /out/rendered /var/lib/agente-caddy/rendered

ENV ENVIRONMENT=production \
    XDG_DATA_HOME=/data \
    XDG_CONFIG_HOME=/config \
    HOME=/data \
    INTERNAL_ADDRESS=:9180
WORKDIR /etc/agente-caddy
USER 1000:1000
VOLUME ["/data", "/config"]

# 80 and 443 need net.ipv4.ip_unprivileged_port_start=0 (compose.yaml sets
# it) since the process is not root; 9180 is the internal metrics/health
# listener, for the backend network only.
EXPOSE 80 443 443/udp 9180

# No shell or curl here: the binary checks itself (GET /health/live on the
# internal listener; exit 0 on 2xx).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/agente-caddy", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/agente-caddy"]
CMD ["run", "--config", "/etc/agente-caddy/Caddyfile.staging", "--adapter", "caddyfile"]
