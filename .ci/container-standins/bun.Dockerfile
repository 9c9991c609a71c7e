# LOCAL STAND-IN for the official oven/bun image, built by .ci/container-check.sh because CI
# reaches no image registry. Same layout as the real image: Debian bookworm slim, bun and bunx in
# /usr/local/bin, a `bun` user (uid 1000), WORKDIR /home/bun/app, running as root by default.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# The Bun executable from the npm package @oven/bun-linux-x64 at the exact version of the tag.
COPY bun /usr/local/bin/bun
# Extra CA certificates of the machine running the check (an egress proxy that re-signs TLS), so
# `bun install` reaches the npm registry from inside the build. Empty when the machine has none.
# The real oven/bun image does not need this; the runtime image of the service never gets it.
COPY extra-ca.pem /usr/local/share/container-check/extra-ca.pem

ARG BUN_VERSION
RUN chmod 0755 /usr/local/bin/bun \
 && ln -s bun /usr/local/bin/bunx \
 && groupadd --gid 1000 bun \
 && useradd --uid 1000 --gid bun --shell /bin/sh --create-home bun \
 && mkdir -p /home/bun/app && chown bun:bun /home/bun/app \
 && test "$(bun --version)" = "${BUN_VERSION}"

ENV NODE_EXTRA_CA_CERTS=/usr/local/share/container-check/extra-ca.pem \
    BUN_RUNTIME_TRANSPILER_CACHE_PATH=0 \
    BUN_INSTALL_BIN=/usr/local/bin
WORKDIR /home/bun/app
CMD ["/usr/local/bin/bun"]
