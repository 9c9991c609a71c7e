# LOCAL STAND-IN for the official haproxy:<major.minor> image, built by .ci/container-check.sh
# because CI reaches no image registry: Debian's own haproxy package (2.6 LTS in bookworm) on the
# same Debian base, with the official image's interface: the configuration at
# /usr/local/etc/haproxy/haproxy.cfg, the unprivileged `haproxy` user, master-worker mode in the
# foreground (its entrypoint turns `haproxy ...` into `haproxy -W -db ...`), SIGUSR1 to stop softly.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG HAPROXY_VERSION

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/* /etc/haproxy/haproxy.cfg \
 && mkdir -p /usr/local/etc/haproxy /var/lib/haproxy \
 && chown haproxy:haproxy /var/lib/haproxy \
 && printf '%s\n' '#!/bin/sh' 'set -e' \
      'if [ "${1#-}" != "$1" ]; then set -- haproxy "$@"; fi' \
      'if [ "$1" = haproxy ]; then shift; set -- haproxy -W -db "$@"; fi' \
      'exec "$@"' >/usr/local/bin/docker-entrypoint.sh \
 && chmod 0755 /usr/local/bin/docker-entrypoint.sh \
 && haproxy -v | grep -F "version ${HAPROXY_VERSION}."

WORKDIR /var/lib/haproxy
USER haproxy
STOPSIGNAL SIGUSR1
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
