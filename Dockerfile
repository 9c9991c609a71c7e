# tasks-api container image.
#
# Stage 1 compiles the service into one self-contained executable (Bun runtime + bundled code +
# the SQL migrations, which a Bun macro inlines at build time). Stage 2 is a slim glibc base that
# holds nothing but that executable.
#
# Both base images are pinned by version. CI has no registry access, so
# .ci/container-check.sh builds local stand-ins under these exact names; keep the two FROM
# lines in this literal "FROM name:tag" form, because the script reads them from here.

FROM oven/bun:1.4.5 AS build
WORKDIR /src

# Dependencies first, so editing src/ does not invalidate the install layer.
COPY package.json bun.lock bunfig.toml tsconfig.json ./
# bun install applies patches/ (a fix to postgres.js; README, "Benchmark").
COPY patches ./patches
RUN bun install --frozen-lockfile

COPY src ./src
COPY drizzle ./drizzle
# --sourcemap embeds a compressed source map in the executable (stack traces show src/ paths and
# lines); the tasks-api.map written next to it is not needed at run time.
RUN bun build --compile --minify --sourcemap ./src/index.ts --outfile /out/tasks-api


# Debian slim rather than distroless: the executable dominates the size either way (~105 MB of a
# ~180 MB image), and slim keeps a shell, coreutils and apt for `docker exec` debugging.
# No ca-certificates: Bun verifies TLS (e.g. Neon) against its own built-in Mozilla root store; a
# private CA can be added at run time with NODE_EXTRA_CA_CERTS=/path/to/ca.pem.
FROM debian:12.15-slim AS runtime

# A named account for the numeric uid, so `ps`, `id` and log tooling show a name.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app

WORKDIR /app
# Owned by root and not writable by the service user: the running process cannot replace itself.
COPY --from=build /out/tasks-api /app/tasks-api

# OCI annotations. version, revision and created come from the build (`docker build --build-arg
# VERSION=$(jq -r .version package.json) --build-arg REVISION=$(git rev-parse HEAD) --build-arg
# CREATED=$(date -u +%FT%TZ) .`); as build arguments they sit in this last stage, so a new commit
# does not invalidate the cached compile above.
ARG VERSION=unknown REVISION=unknown CREATED=unknown
LABEL org.opencontainers.image.title="tasks-api" \
      org.opencontainers.image.description="Tasks microservice: REST API on Bun and PostgreSQL, one self-contained executable" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="debian:12.15-slim"

USER 10001:10001
ENV NODE_ENV=production PORT=8000 HOST=0.0.0.0
EXPOSE 8000

# The executable's own subcommand: GET http://127.0.0.1:$PORT/health, exit 0 on 200, else 1.
# No curl or wget in the image, and exec form needs no shell.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/app/tasks-api", "healthcheck"]

# The service is PID 1 (exec form, no shell in between) and handles SIGTERM itself: it stops
# accepting, drains in-flight requests (up to 10 s), closes the pool and exits 0. No init/tini is
# needed because it spawns no child processes (health-check processes are children of the
# container runtime's shim, which reaps them); run with `--init` if that ever changes.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/tasks-api"]
