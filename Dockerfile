# tasks-api container image: one self-contained executable on an otherwise empty filesystem.
#
#   build    compiles the service into one executable (Bun runtime + bundled code + the SQL
#            migrations, which a Bun macro inlines at build time)
#   rootfs   collects, on Debian, exactly what that executable needs at run time
#   final    FROM scratch: the executable, the glibc it links (ldd), CA certificates, a passwd
#            entry for the service user and an empty /tmp. No shell, no package manager.
#
# Base images are pinned by version. CI has no registry access, so .ci/container-check.sh builds
# local stand-ins under these exact names; keep the FROM lines in this literal "FROM name:tag" form,
# because the script reads them from here.

FROM oven/bun:1.4.5 AS build
WORKDIR /src

# Dependencies first, so editing src/ does not invalidate the install layer. Only the runtime
# dependencies: the executable bundles nothing else. bun install applies patches/ (fixes to
# postgres.js and Elysia; docs/development.md, "Upstream reports").
COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY patches ./patches
RUN bun install --frozen-lockfile --production

COPY src ./src
COPY drizzle ./drizzle
# src/main.ts is the executable's entry. --splitting keeps the service in a chunk that only loads
# for `serve`/`migrate`/`token`, so `tasks-api healthcheck` (run every few seconds) costs about 10 ms
# of CPU instead of about 70. --sourcemap embeds a compressed source map (stack traces show src/
# paths); the .map files written next to it are not needed at run time.
RUN bun build --compile --minify --splitting --sourcemap ./src/main.ts --outfile /out/tasks-api


FROM debian:12.15-slim AS rootfs
# CA certificates: Bun's built-in Mozilla roots verify TLS by default, but sslrootcert=system in
# DATABASE_URL (libpq's spelling of "the operating system's roots") reads
# /etc/ssl/certs/ca-certificates.crt, so the file must exist.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/tasks-api /rootfs/app/tasks-api
# The shared libraries the executable links (glibc: libc, libm, libdl, libpthread) and the dynamic
# loader, at the paths ldd reports. The service user is uid/gid 10001 with no home and no shell.
RUN set -eu; \
    cd /rootfs; \
    if ldd app/tasks-api | grep 'not found'; then exit 1; fi; \
    for lib in $(ldd app/tasks-api | grep -o '/[^ ]*'); do cp --parents --dereference "$lib" .; done; \
    mkdir -p etc/ssl/certs tmp; \
    chmod 1777 tmp; \
    cp /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/; \
    echo 'root:x:0:0:root:/nonexistent:/sbin/nologin' >etc/passwd; \
    echo 'app:x:10001:10001:tasks-api:/nonexistent:/sbin/nologin' >>etc/passwd; \
    printf 'root:x:0:\napp:x:10001:\n' >etc/group


FROM scratch
COPY --from=rootfs /rootfs /

# OCI annotations. version, revision and created come from the build (`docker build --build-arg
# VERSION=$(jq -r .version package.json) --build-arg REVISION=$(git rev-parse HEAD) --build-arg
# CREATED=$(date -u +%FT%TZ) .`); as build arguments of this last stage they do not invalidate
# the cached compile above.
ARG VERSION=unknown REVISION=unknown CREATED=unknown
LABEL org.opencontainers.image.title="tasks-api" \
      org.opencontainers.image.description="Tasks microservice: REST API on Bun and PostgreSQL, one self-contained executable" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="scratch"

USER 10001:10001
# TMPDIR: the only writable place when the root filesystem is read-only (a tmpfs there).
ENV NODE_ENV=production PORT=8000 HOST=0.0.0.0 TMPDIR=/tmp
EXPOSE 8000

# The executable's own subcommand: GET http://127.0.0.1:$PORT/health/ready, exit 0 on 200, else 1
# (about 10 ms of CPU; there is no curl or shell to use instead). compose.yaml sets its own timing;
# behind HAProxy or Kubernetes the load balancer's own probes decide where requests go.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/app/tasks-api", "healthcheck"]

# The service is PID 1 (exec form, nothing in between) and handles SIGTERM/SIGINT from its first
# moment: it reports not ready for SHUTDOWN_DRAIN_MS, stops accepting, drains in-flight requests
# (up to 10 s), closes the pool and exits 0. It starts no child processes, so it needs no init to
# reap them (health-check processes are children of the runtime's shim, which reaps them).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/tasks-api"]
