#!/usr/bin/env bash
# Container check: builds the service image from ./Dockerfile, starts ./compose.yaml, smoke-tests the
# API through the published port, measures start and stop, and tears everything down again.
#
#   bash .ci/container-check.sh            (from the repository root; needs root or sudo)
#
# No image registry is reachable here (only Debian's and npm's package registries are), so the base
# images named in Dockerfile and compose.yaml are replaced by LOCAL STAND-INS built under the exact
# same names: Debian via debootstrap, Bun from the npm package @oven/bun-linux-x64, PostgreSQL from
# Debian's package (recipes in .ci/container-standins/). They are cached in the daemon's data
# root between runs; everything else (containers, volumes, networks, the daemon itself, temp files)
# is removed on exit, also on failure.
#
# Environment (all optional):
#   CONTAINER_CHECK_CACHE         where the daemon's data root (stand-in images, build cache) lives
#                                 (default ${XDG_CACHE_HOME:-$HOME/.cache}/tasks-api-container-check)
#   CONTAINER_CHECK_FRESH=1       delete that cache first: a cold run
#   CONTAINER_CHECK_APP_DIR       build context holding Dockerfile and compose.yaml (default: repo root)
#   CONTAINER_CHECK_API_PORT      first loopback port to try for the API (default 18000)
#   CONTAINER_CHECK_IDLE_S        measure the idle API container's CPU for that many seconds (default 0: off)
#   CONTAINER_CHECK_DOCKERD_FLAGS extra dockerd flags, e.g. "--iptables=false" on hosts without iptables
#   DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR  override the mirrors read from this machine's apt sources
set -Eeuo pipefail
trap 'echo "[container-check] error: line $LINENO: $BASH_COMMAND" >&2' ERR

if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "container-check: must run as root (dockerd, debootstrap)" >&2; exit 1; }
	exec sudo --preserve-env bash "$0" "$@"
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP_DIR=$(cd "${CONTAINER_CHECK_APP_DIR:-$ROOT}" && pwd)
STANDINS=$ROOT/.ci/container-standins
CACHE_DIR=${CONTAINER_CHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tasks-api-container-check}
PROJECT=tasksapicheck
API_IMAGE=tasks-api:container-check
SCRIPT_START=$(date +%s.%N)

# ---------------------------------------------------------------------------------------------
# output helpers
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[container-check %6ss] %s\n' "$(since "$SCRIPT_START")" "$*"; }
die() { printf '[container-check] FAILED: %s\n' "$*" >&2; exit 1; }
show_log() { # file [lines]
	[ -s "$1" ] || return 0
	echo "----- last ${2:-60} lines of $(basename "$1") -----" >&2
	tail -n "${2:-60}" "$1" >&2
	echo "-----" >&2
}
run_logged() { # name cmd...: run quietly into $LOGS/name.log, show its tail on failure
	local name=$1; shift
	if ! "$@" >"$LOGS/$name.log" 2>&1; then
		show_log "$LOGS/$name.log" 80
		die "$name: '$*' failed"
	fi
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

# ---------------------------------------------------------------------------------------------
# 1. tools
need=()
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
command -v flock >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]} with apt"
	apt-get update -qq >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1
fi

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/lock"
flock -w 900 9 || die "another container-check holds $CACHE_DIR/lock"
if [ "${CONTAINER_CHECK_FRESH:-0}" = 1 ]; then
	log "CONTAINER_CHECK_FRESH=1: removing cached daemon data in $CACHE_DIR/docker"
	rm -rf "$CACHE_DIR/docker"
fi

# A short path: containerd's sockets live under the exec root (Unix socket paths max 107 bytes).
WORK=$(mktemp -d /tmp/container-check.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/bin"
# Debian's client matches Debian's daemon (API 1.41) and has BuildKit built in; a newer client
# elsewhere on PATH may insist on a buildx plugin that is not installed.
ln -s /usr/bin/docker "$WORK/bin/docker"
export PATH="$WORK/bin:$PATH"
export DOCKER_HOST="unix://$WORK/docker.sock"
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1

# ---------------------------------------------------------------------------------------------
# teardown: runs on every exit
DOCKERD_PID=""
WAIT_CID=""
BAD_CID=""
LOAD_PIDS=()
STACK_UP=0
HAD_DOCKER0=0; ip link show docker0 >/dev/null 2>&1 && HAD_DOCKER0=1
IP_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" { print $3 }')

# The firewall is left exactly as it was. Snapshot of the rules and chains now; at the end, a rule
# that appeared since is deleted if it is in a chain that appeared since, jumps to one, or is
# Docker's (names a DOCKER chain, docker0 or a br-<id> bridge); chains that appeared are removed;
# and rules of the snapshot that are gone (dockerd flushes an existing DOCKER chain when it starts,
# e.g. another daemon's) are put back. Nothing else is touched.
IPT_TABLES=(filter nat)
for table in "${IPT_TABLES[@]}"; do
	iptables-save -t "$table" 2>/dev/null | grep -E '^(:|-A )' | sed 's/ \[[0-9]*:[0-9]*\]$//' >"$WORK/iptables-$table.before" || true
done
restore_iptables() {
	command -v iptables-save >/dev/null || return 0
	local table now new_chains rule chain target mine
	for table in "${IPT_TABLES[@]}"; do
		[ -f "$WORK/iptables-$table.before" ] || continue
		now=$(iptables-save -t "$table" 2>/dev/null | grep -E '^(:|-A )' | sed 's/ \[[0-9]*:[0-9]*\]$//')
		# by name (a built-in chain whose policy changed is not new)
		new_chains=" $(comm -13 <(sed -nE 's/^:([^ ]+).*/\1/p' "$WORK/iptables-$table.before" | sort) \
			<(sed -nE 's/^:([^ ]+).*/\1/p' <<<"$now" | sort) | tr '\n' ' ') "
		grep '^-A ' <<<"$now" | grep -vxFf "$WORK/iptables-$table.before" | tac | while read -r rule; do
			chain=$(awk '{ print $2 }' <<<"$rule")
			target=$(sed -nE 's/.* -j ([^ ]+).*/\1/p' <<<"$rule")
			mine=0
			[[ $new_chains == *" $chain "* ]] && mine=1
			[ -n "$target" ] && [[ $new_chains == *" $target "* ]] && mine=1
			[[ $rule =~ DOCKER|docker0|\ br-[0-9a-f]{12}\  ]] && mine=1
			[ "$mine" = 0 ] || eval "iptables -t $table ${rule/#-A /-D }" 2>/dev/null || true
		done
		for chain in $new_chains; do iptables -t "$table" -F "$chain" 2>/dev/null || true; done
		for chain in $new_chains; do iptables -t "$table" -X "$chain" 2>/dev/null || true; done
		now=$(iptables-save -t "$table" 2>/dev/null | grep -E '^(:|-A )' | sed 's/ \[[0-9]*:[0-9]*\]$//')
		sed -nE 's/^:([^ ]+) -$/\1/p' "$WORK/iptables-$table.before" | while read -r chain; do
			grep -q "^:$chain " <<<"$now" || iptables -t "$table" -N "$chain" 2>/dev/null || true
		done
		grep '^-A ' "$WORK/iptables-$table.before" | grep -vxF -f <(grep '^-A ' <<<"$now") - | while read -r rule; do
			eval "iptables -t $table $rule" 2>/dev/null || true
		done
	done
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM ERR
	[ ${#LOAD_PIDS[@]} = 0 ] || kill "${LOAD_PIDS[@]}" 2>/dev/null
	if [ "$STACK_UP" = 1 ]; then
		if [ "$rc" != 0 ]; then
			echo "----- compose ps / logs (failure) -----" >&2
			compose ps >&2
			compose logs --no-color --tail=80 >&2
		fi
		log "teardown: compose down -v"
		compose down -v --remove-orphans --timeout 20 >"$LOGS/down-cleanup.log" 2>&1
	fi
	if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
		[ -z "$WAIT_CID$BAD_CID" ] || docker rm -f $WAIT_CID $BAD_CID >/dev/null 2>&1
		docker image prune -f >/dev/null 2>&1
		docker builder prune -f --keep-storage 1GB >/dev/null 2>&1 # bound the cache: ~3 builds
		log "teardown: stopping dockerd (pid $DOCKERD_PID)"
		kill -TERM "$DOCKERD_PID"
		for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$DOCKERD_PID" 2>/dev/null && { echo "dockerd did not stop; killing it" >&2; kill -KILL "$DOCKERD_PID"; sleep 1; }
	fi
	[ "$HAD_DOCKER0" = 0 ] && ip link show docker0 >/dev/null 2>&1 && ip link delete docker0
	restore_iptables
	# dockerd sets FORWARD to DROP when it turns forwarding on
	if [ -n "$FORWARD_POLICY" ] && [ "$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" { print $3 }')" != "$FORWARD_POLICY" ]; then
		iptables -P FORWARD "$FORWARD_POLICY" 2>/dev/null
	fi
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$IP_FORWARD" ] && echo "$IP_FORWARD" >/proc/sys/net/ipv4/ip_forward
	if command -v iptables-save >/dev/null; then
		for table in "${IPT_TABLES[@]}"; do
			[ -f "$WORK/iptables-$table.before" ] || continue
			if ! diff <(sort "$WORK/iptables-$table.before") \
				<(iptables-save -t "$table" 2>/dev/null | grep -E '^(:|-A )' | sed 's/ \[[0-9]*:[0-9]*\]$//' | sort) >"$LOGS/iptables-$table.diff"; then
				echo "container-check: the $table table differs from before the run:" >&2; cat "$LOGS/iptables-$table.diff" >&2
				[ "$rc" != 0 ] || rc=1
			fi
		done
	fi
	# Never rm -rf through a mount that is still there.
	findmnt -rn -o TARGET | grep -F "$WORK" | sort -r | while read -r m; do umount -l "$m"; done
	if findmnt -rn -o TARGET | grep -qF "$WORK"; then
		echo "container-check: mounts remain under $WORK; not removing it" >&2
	else
		rm -rf "$WORK"
	fi
	if [ "$rc" = 0 ]; then log "done: everything torn down"; else log "exit status $rc; everything torn down"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# 2. a private Docker daemon: data root cached between runs, everything else in $WORK
log "starting dockerd (data root $CACHE_DIR/docker)"
# TMPDIR: containerd may drop a stack dump into its temp dir on shutdown; keep it inside $WORK.
mkdir -p "$WORK/tmp"
# shellcheck disable=SC2086 # extra flags are a word list on purpose
TMPDIR="$WORK/tmp" dockerd --data-root "$CACHE_DIR/docker" --exec-root "$WORK/exec" --pidfile "$WORK/docker.pid" \
	-H "$DOCKER_HOST" ${CONTAINER_CHECK_DOCKERD_FLAGS:-} >"$LOGS/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 300); do
	docker version >/dev/null 2>&1 && break
	kill -0 "$DOCKERD_PID" 2>/dev/null || { show_log "$LOGS/dockerd.log"; die "dockerd exited (bridge/iptables trouble? try CONTAINER_CHECK_DOCKERD_FLAGS=--iptables=false)"; }
	sleep 0.2
done
docker version >/dev/null 2>&1 || { show_log "$LOGS/dockerd.log"; die "dockerd did not answer within 60 s"; }

if docker compose version >/dev/null 2>&1; then
	COMPOSE=(docker compose); COMPOSE_V=2
else
	COMPOSE=(docker-compose); COMPOSE_V=1
fi
# --env-file: our own values only, never a developer's .env next to compose.yaml.
compose() { "${COMPOSE[@]}" --env-file "$WORK/compose.env" -p "$PROJECT" -f "$APP_DIR/compose.yaml" "$@"; }
log "docker $(docker version -f '{{.Server.Version}}'), compose: $("${COMPOSE[@]}" version --short 2>/dev/null || echo "v$COMPOSE_V")"

# ---------------------------------------------------------------------------------------------
# 3. local stand-ins for the base images, under the exact names the project files use
if [ ! -f "$APP_DIR/Dockerfile" ] || [ ! -f "$APP_DIR/compose.yaml" ]; then die "no Dockerfile/compose.yaml in $APP_DIR"; fi
mapfile -t FROMS < <(awk 'toupper($1) == "FROM" { print $2 }' "$APP_DIR/Dockerfile")
BUN_IMAGE=$(printf '%s\n' "${FROMS[@]}" | grep -m1 '^oven/bun:' || true)
BASE_IMAGE=$(printf '%s\n' "${FROMS[@]}" | grep -m1 '^debian:' || true)
for f in "${FROMS[@]}"; do
	case "$f" in oven/bun:* | debian:* | scratch) ;; *) die "no stand-in recipe for the base image $f (only oven/bun, debian, scratch)" ;; esac
done
PG_IMAGE=$(sed -nE 's/^[[:space:]]*image:[[:space:]]*"?(postgres:[^"[:space:]]+)"?[[:space:]]*$/\1/p' "$APP_DIR/compose.yaml" | head -n1)
[ -n "$PG_IMAGE" ] || die "no 'image: postgres:...' line in compose.yaml"
BUN_VERSION=${BUN_IMAGE##*:}; BUN_VERSION=${BUN_VERSION%%-*}
PG_MAJOR=${PG_IMAGE##*:}; PG_MAJOR=${PG_MAJOR%%[.-]*}
[[ $BUN_IMAGE == oven/bun:* && $BUN_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "build stage must be FROM oven/bun:<x.y.z>, got $BUN_IMAGE"
[[ $BASE_IMAGE == debian:* ]] || die "the Dockerfile has no debian:<tag> stage (the stand-ins are built on it)"
[[ $PG_MAJOR =~ ^[0-9]+$ ]] || die "cannot read the PostgreSQL major version from $PG_IMAGE"
LB_IMAGE=$(sed -nE 's/^[[:space:]]*image:[[:space:]]*"?(haproxy:[^"[:space:]]+)"?[[:space:]]*$/\1/p' "$APP_DIR/compose.yaml" | head -n1)
[ -n "$LB_IMAGE" ] || die "no 'image: haproxy:...' line in compose.yaml"
HAPROXY_VERSION=${LB_IMAGE##*:}; HAPROXY_VERSION=${HAPROXY_VERSION%%-*}
[[ $HAPROXY_VERSION =~ ^[0-9]+\.[0-9]+$ ]] || die "the lb image must be haproxy:<major.minor> (Debian's package is the stand-in), got $LB_IMAGE"
log "base images: $BUN_IMAGE (bun $BUN_VERSION), $BASE_IMAGE, $PG_IMAGE (PostgreSQL $PG_MAJOR), $LB_IMAGE"

recipe_of() { docker image inspect -f '{{ index .Config.Labels "container-check.recipe" }}' "$1" 2>/dev/null || true; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# The Debian mirrors this machine's apt uses (no host name is hard-coded here).
apt_uri_for_suite() {
	local suite=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
			{ uri = ""; ok = 0
			  for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
				if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
			  }
			  if (ok && uri != "") { print uri; exit } }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == s) { print $i; exit } }' || true
}

build_debian_base() {
	local suite=bookworm mirror security rootfs="$WORK/rootfs" want
	mirror=${DEBIAN_MIRROR:-$(apt_uri_for_suite "$suite" | head -n1)}
	security=${DEBIAN_SECURITY_MIRROR:-$(apt_uri_for_suite "$suite-security" | head -n1)}
	[ -n "$mirror" ] || die "no Debian $suite mirror in this machine's apt sources; set DEBIAN_MIRROR"
	log "building stand-in $BASE_IMAGE: debootstrap --variant=minbase $suite"
	run_logged debootstrap debootstrap --variant=minbase --components=main "$suite" "$rootfs" "$mirror"
	# Trim like the official -slim images (debuerreotype --slim): no docs, man pages, locales.
	cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/groff/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/lintian/*
		path-exclude /usr/share/linda/*
		path-exclude /usr/share/locale/*
		path-include /usr/share/locale/locale.alias
	EOF
	cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
	EOF
	echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
	echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
	printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
	rm -f "$rootfs/etc/apt/sources.list"
	{
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" "$suite" "$suite"
		[ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security" "$suite"
	} >"$rootfs/etc/apt/sources.list.d/debian.sources"
	(
		cd "$rootfs"
		find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
		find usr/share/doc -mindepth 1 -type d -empty -delete
		rm -rf usr/share/man/* usr/share/groff/* usr/share/info/* usr/share/lintian/* usr/share/linda/*
		find usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
		rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/* tmp/* root/.[!.]*
		: >etc/resolv.conf; : >etc/hostname
	)
	want=${BASE_IMAGE##*:}; want=${want%%-*}
	if [ "$(cat "$rootfs/etc/debian_version")" != "$want" ]; then
		log "note: the mirror serves Debian $(cat "$rootfs/etc/debian_version"), the tag says $want"
	fi
	tar --numeric-owner -C "$rootfs" -c . | docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' \
		--change "LABEL container-check.recipe=$1 container-check.stand-in=true" \
		- "$BASE_IMAGE" >"$LOGS/import.log"
	rm -rf "$rootfs"
}

fetch_bun() { # dest: the bun executable at exactly $BUN_VERSION
	local dest=$1 dir="$WORK/bun-pkg" host
	mkdir -p "$dir"
	if (cd "$dir" && npm pack --silent "@oven/bun-linux-x64@$BUN_VERSION" >"$LOGS/npm-pack.log" 2>&1); then
		tar -xzf "$dir"/oven-bun-linux-x64-*.tgz -C "$dir" package/bin/bun
		mv "$dir/package/bin/bun" "$dest"
	else
		host=$(command -v bun || true)
		if [ -z "$host" ] || [ "$("$host" --version)" != "$BUN_VERSION" ]; then
			show_log "$LOGS/npm-pack.log"
			die "cannot get bun $BUN_VERSION from npm, and no bun $BUN_VERSION on PATH"
		fi
		log "npm pack failed; using this machine's bun $BUN_VERSION"
		cp "$(readlink -f "$host")" "$dest"
	fi
	chmod 0755 "$dest"
	[ "$("$dest" --version)" = "$BUN_VERSION" ] || die "the bun binary reports $("$dest" --version), wanted $BUN_VERSION"
}

t=$(now)
base_recipe="debootstrap-minbase-slim-v1"
if [ "$(recipe_of "$BASE_IMAGE")" = "$base_recipe" ]; then
	log "stand-in $BASE_IMAGE: cached"
else
	build_debian_base "$base_recipe"
fi
base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")

ctx="$WORK/ctx-bun"; mkdir -p "$ctx"
cp "$STANDINS/bun.Dockerfile" "$ctx/Dockerfile"
extra_ca="${NODE_EXTRA_CA_CERTS:-}"
if [ -n "$extra_ca" ] && [ -r "$extra_ca" ]; then cp "$extra_ca" "$ctx/extra-ca.pem"; else : >"$ctx/extra-ca.pem"; fi
bun_recipe=$(echo "$base_id $BUN_VERSION $(hash_of "$ctx/Dockerfile" "$ctx/extra-ca.pem")" | sha256sum | cut -c1-16)
if [ "$(recipe_of "$BUN_IMAGE")" = "$bun_recipe" ]; then
	log "stand-in $BUN_IMAGE: cached"
else
	log "building stand-in $BUN_IMAGE from npm @oven/bun-linux-x64@$BUN_VERSION"
	fetch_bun "$ctx/bun"
	run_logged build-bun docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "BUN_VERSION=$BUN_VERSION" \
		--label "container-check.recipe=$bun_recipe" --label container-check.stand-in=true -t "$BUN_IMAGE" "$ctx"
fi

ctx="$WORK/ctx-pg"; mkdir -p "$ctx"
cp "$STANDINS/postgres.Dockerfile" "$ctx/Dockerfile"
cp "$STANDINS/postgres-entrypoint.sh" "$ctx/"
pg_recipe=$(echo "$base_id $PG_MAJOR $(hash_of "$ctx/Dockerfile" "$ctx/postgres-entrypoint.sh")" | sha256sum | cut -c1-16)
if [ "$(recipe_of "$PG_IMAGE")" = "$pg_recipe" ]; then
	log "stand-in $PG_IMAGE: cached"
else
	log "building stand-in $PG_IMAGE from Debian's postgresql-$PG_MAJOR"
	run_logged build-postgres docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "PG_MAJOR=$PG_MAJOR" \
		--label "container-check.recipe=$pg_recipe" --label container-check.stand-in=true -t "$PG_IMAGE" "$ctx"
fi

ctx="$WORK/ctx-haproxy"; mkdir -p "$ctx"
cp "$STANDINS/haproxy.Dockerfile" "$ctx/Dockerfile"
lb_recipe=$(echo "$base_id $HAPROXY_VERSION $(hash_of "$ctx/Dockerfile")" | sha256sum | cut -c1-16)
if [ "$(recipe_of "$LB_IMAGE")" = "$lb_recipe" ]; then
	log "stand-in $LB_IMAGE: cached"
else
	log "building stand-in $LB_IMAGE from Debian's haproxy"
	run_logged build-haproxy docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "HAPROXY_VERSION=$HAPROXY_VERSION" \
		--label "container-check.recipe=$lb_recipe" --label container-check.stand-in=true -t "$LB_IMAGE" "$ctx"
fi
STANDINS_S=$(since "$t")

# ---------------------------------------------------------------------------------------------
# 4. the service image, from the project's own Dockerfile
# The image is built from a copy of the working tree in which files that must never reach the
# daemon are planted: .dockerignore (an allow list) has to keep every one of them out.
PLANTED=(.npmrc .pgpass id_rsa .ssh/id_ed25519 secrets/db-password .env .env.production src/.env
	src/secrets/token src/.npmrc drizzle/.env.local patches/id_rsa node_modules/planted/index.js
	test/planted.txt .git/planted)
CTX=$WORK/app
mkdir -p "$CTX"
tar -C "$APP_DIR" --exclude=./node_modules --exclude=./.git -c . | tar -C "$CTX" -x
for f in "${PLANTED[@]}"; do
	mkdir -p "$(dirname "$CTX/$f")"
	echo "planted-secret-$RANDOM$RANDOM" >"$CTX/$f"
done
# What the daemon receives: a scratch build that copies the whole context out again.
printf 'FROM scratch\nCOPY . /\n' >"$WORK/context-probe.Dockerfile"
run_logged build-context-probe docker build -f "$WORK/context-probe.Dockerfile" --output "type=local,dest=$WORK/context-seen" "$CTX"
CONTEXT_FILES=$(cd "$WORK/context-seen" && find . -type f | sed 's|^\./||' | sort)
CONTEXT_LEAKS=$(for f in "${PLANTED[@]}"; do [ ! -e "$WORK/context-seen/$f" ] || echo "$f"; done)
CONTEXT_TOP=$(cd "$WORK/context-seen" && LC_ALL=C ls -A | tr '\n' ' ' | sed 's/ $//')
rm -rf "$WORK/context-seen"

log "docker build (a copy of $APP_DIR with planted secrets) -> $API_IMAGE"
t=$(now)
APP_VERSION=$(sed -nE 's/^[[:space:]]*"version":[[:space:]]*"([^"]+)".*/\1/p' "$APP_DIR/package.json" | head -n1)
APP_REVISION=$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null || echo unknown)
run_logged build-api docker build --progress=plain -t "$API_IMAGE" --build-arg "VERSION=$APP_VERSION" \
	--build-arg "REVISION=$APP_REVISION" --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$CTX"
BUILD_S=$(since "$t")
IMAGE_BYTES=$(docker image inspect -f '{{.Size}}' "$API_IMAGE")
# Every regular file in the image's layers, as "path size" (the image has no shell to ask).
docker image save -o "$WORK/image.tar" "$API_IMAGE"
IMAGE_FILES=$(tar -tf "$WORK/image.tar" | grep 'layer.tar$' | while read -r layer; do
	tar -xOf "$WORK/image.tar" "$layer" | tar -tvf - | awk '$1 ~ /^-/ { print $6, $3 }'
done | LC_ALL=C sort)
IMAGE_SECRET_HITS=$(grep -ac planted-secret- "$WORK/image.tar" || true)
rm -f "$WORK/image.tar"
BIN_BYTES=$(awk '$1 == "app/tasks-api" { print $2 }' <<<"$IMAGE_FILES")
log "built in ${BUILD_S}s: $(mb "$IMAGE_BYTES")"

# ---------------------------------------------------------------------------------------------
# 5. the compose stack
rand() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-"$1"; }
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}
# The stack sees exactly these values: nothing from the caller's environment or a .env file.
unset POSTGRES_USER POSTGRES_DB BETTER_AUTH_URL JWKS_URL JWT_ISSUER JWT_AUDIENCE CORS_ORIGINS LOG_LEVEL DB_POOL_MAX SHUTDOWN_DRAIN_MS
API_PORT=$(free_port "${CONTAINER_CHECK_API_PORT:-18000}")
BETTER_AUTH_SECRET=$(rand 48)
POSTGRES_PASSWORD=$(rand 24)
export API_IMAGE API_PORT BETTER_AUTH_SECRET POSTGRES_PASSWORD
printf 'API_IMAGE=%s\nAPI_PORT=%s\nBETTER_AUTH_SECRET=%s\nPOSTGRES_PASSWORD=%s\n' \
	"$API_IMAGE" "$API_PORT" "$BETTER_AUTH_SECRET" "$POSTGRES_PASSWORD" >"$WORK/compose.env"
BASE_URL="http://127.0.0.1:$API_PORT"

compose down -v --remove-orphans >"$LOGS/down-before.log" 2>&1 || true # leftovers of an aborted run
log "compose up (api on $BASE_URL)"
STACK_UP=1
t_up=$(now)
if [ "$COMPOSE_V" = 2 ]; then
	run_logged up compose up -d --no-build --wait
else
	# v1 has no --wait, but `up -d` already waits for db's service_healthy before creating api.
	run_logged up compose up -d --no-build
fi
UP_RETURN_S=$(since "$t_up")
API_CID=$(compose ps -q api)
DB_CID=$(compose ps -q db)
LB_CID=$(compose ps -q lb)
[ -n "$API_CID" ] || die "no api container"
[ -n "$LB_CID" ] || die "no lb container"

wait_healthy() { # container timeout_s
	local deadline=$(($(date +%s) + $2)) state
	while :; do
		state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} {{.RestartCount}}' "$1")
		case "$state" in
			"running healthy 0") return 0 ;;
			running\ unhealthy*)
				echo "unhealthy; last health-check results:" >&2
				docker inspect -f '{{range .State.Health.Log}}  exit {{.ExitCode}}: {{.Output}}{{"\n"}}{{end}}' "$1" | tail -n 4 >&2
				return 1 ;;
			exited* | dead*) echo "container $state" >&2; return 1 ;;
			*\ [1-9]*) echo "container restarted: $state" >&2; return 1 ;;
		esac
		[ "$(date +%s)" -lt "$deadline" ] || { echo "timeout, state: $state" >&2; return 1; }
		sleep 0.1
	done
}
wait_lb_ready() { # timeout_s: HAProxy answers /health/ready with 200, i.e. it has a replica up
	local deadline=$(($(date +%s) + $1))
	until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/health/ready")" = 200 ]; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
wait_healthy "$API_CID" 180 || die "api did not become healthy"
wait_lb_ready 30 || die "HAProxy did not serve /health/ready within 30 s of a healthy api"
UP_HEALTHY_S=$(since "$t_up")
log "api healthy and served through HAProxy ${UP_HEALTHY_S}s after 'up' (compose returned after ${UP_RETURN_S}s)"

# CPU an idle container costs (its cgroup: the service plus the health-check processes that the
# runtime starts in it), over CONTAINER_CHECK_IDLE_S seconds; off by default, it only waits.
cpu_ns_of() { # container
	local pid path
	pid=$(docker inspect -f '{{.State.Pid}}' "$1")
	path=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ { print $3 }' "/proc/$pid/cgroup")
	if [ -n "$path" ]; then
		cat "/sys/fs/cgroup/cpuacct$path/cpuacct.usage" 2>/dev/null || cat "/sys/fs/cgroup/cpu,cpuacct$path/cpuacct.usage"
	else
		path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
		awk '$1 == "usage_usec" { print $2 * 1000 }' "/sys/fs/cgroup$path/cpu.stat"
	fi
}
IDLE_CPU="not measured (CONTAINER_CHECK_IDLE_S=0)"
if [ "${CONTAINER_CHECK_IDLE_S:-0}" -gt 0 ]; then
	log "idle: measuring the api container's CPU for ${CONTAINER_CHECK_IDLE_S} s"
	c0=$(cpu_ns_of "$API_CID"); sleep "$CONTAINER_CHECK_IDLE_S"; c1=$(cpu_ns_of "$API_CID")
	IDLE_CPU=$(awk -v a="$c0" -v b="$c1" -v s="$CONTAINER_CHECK_IDLE_S" 'BEGIN { printf "%.2f %% of one core (%.0f ms of CPU in %d s)", (b - a) / s / 1e7, (b - a) / 1e6, s }')
	log "idle api container: $IDLE_CPU"
fi

# ---------------------------------------------------------------------------------------------
# 6. smoke test through the published port
PASSED=0; FAILED=0
check() { # description expected actual
	if [ "$2" = "$3" ]; then
		PASSED=$((PASSED + 1)); printf '  ok   %s\n' "$1"
	else
		FAILED=$((FAILED + 1)); printf '  FAIL %s: expected %s, got %s\n' "$1" "$2" "$3"
		if [ -s "$WORK/body" ]; then printf '       body: %s\n' "$(head -c 400 "$WORK/body")"; fi
	fi
	return 0
}
contains() { grep -qF -- "$1" "$WORK/body" && echo yes || echo no; }
req() { # method path [json]: prints the status code; body in $WORK/body, headers in $WORK/headers
	local args=(-sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' --max-time 10 -X "$1")
	[ -z "${TOKEN:-}" ] || args+=(-H "Authorization: Bearer $TOKEN")
	[ -z "${3:-}" ] || args+=(-H 'Content-Type: application/json' --data "$3")
	curl "${args[@]}" "$BASE_URL$2" || echo "curl-error"
}
mint_jwt() { # sub: an HS256 token signed with BETTER_AUTH_SECRET, valid 10 minutes
	local js='
		const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
		const now = Math.floor(Date.now() / 1000);
		const head = b64({ alg: "HS256", typ: "JWT" });
		const body = b64({ sub: process.env.SUB, iat: now, exp: now + 600 });
		const sig = require("node:crypto").createHmac("sha256", process.env.BETTER_AUTH_SECRET)
			.update(head + "." + body).digest("base64url");
		console.log(head + "." + body + "." + sig);'
	if command -v bun >/dev/null && [ "$(bun --version 2>/dev/null)" = "$BUN_VERSION" ]; then
		SUB=$1 bun -e "$js"
	else # the Bun stand-in image has the same bun
		docker run --rm -e SUB="$1" -e BETTER_AUTH_SECRET "$BUN_IMAGE" bun -e "$js"
	fi
}

log "smoke test"
TOKEN=""
check "GET /health -> 200" 200 "$(req GET /health)"
check "GET /health says ok" yes "$(contains '"status":"ok"')"
check "GET /health/ready -> 200" 200 "$(req GET /health/ready)"
check "GET /api/tasks without a token -> 401" 401 "$(req GET /api/tasks)"
TOKEN=$(mint_jwt "container-check-user")
check "POST /api/tasks -> 201" 201 "$(req POST /api/tasks '{"title":"container smoke test","description":"made by container-check"}')"
TASK_ID=$(grep -oE '"id": ?[0-9]+' "$WORK/body" | head -n1 | grep -oE '[0-9]+$' || true)
check "POST returned an integer id" yes "$([ -n "$TASK_ID" ] && echo yes || echo no)"
check "POST sets Location" yes "$(grep -qiE "^location: /api/tasks/$TASK_ID"$'\r'"?$" "$WORK/headers" && echo yes || echo no)"
check "GET /api/tasks -> 200" 200 "$(req GET /api/tasks)"
check "the list contains the task" yes "$(grep -qE "\"id\": ?${TASK_ID}[,}]" "$WORK/body" && echo yes || echo no)"
check "GET /api/tasks/$TASK_ID -> 200" 200 "$(req GET "/api/tasks/$TASK_ID")"
check "it is the task" yes "$(contains '"title":"container smoke test"')"
check "PUT /api/tasks/$TASK_ID -> 200" 200 "$(req PUT "/api/tasks/$TASK_ID" '{"status":"completed"}')"
check "PUT changed the status" yes "$(contains '"status":"completed"')"
check "DELETE /api/tasks/$TASK_ID -> 204" 204 "$(req DELETE "/api/tasks/$TASK_ID")"
check "GET /api/tasks/$TASK_ID after delete -> 404" 404 "$(req GET "/api/tasks/$TASK_ID")"
check "POST a task that must survive a restart -> 201" 201 "$(req POST /api/tasks '{"title":"kept across restart"}')"
KEPT_ID=$(grep -oE '"id": ?[0-9]+' "$WORK/body" | head -n1 | grep -oE '[0-9]+$' || true)

# the container itself
API_PID=$(docker inspect -f '{{.State.Pid}}' "$API_CID")
check "image: at most 120 MB" yes "$([ "$IMAGE_BYTES" -le 120000000 ] && echo yes || echo "no ($(mb "$IMAGE_BYTES"))")"
check "image: nothing but the executable, glibc, ld.so, CA certificates, passwd/group" \
	"app/tasks-api etc/group etc/passwd etc/ssl/certs/ca-certificates.crt lib/x86_64-linux-gnu/libc.so.6 lib/x86_64-linux-gnu/libdl.so.2 lib/x86_64-linux-gnu/libm.so.6 lib/x86_64-linux-gnu/libpthread.so.0 lib64/ld-linux-x86-64.so.2" \
	"$(awk '{ print $1 }' <<<"$IMAGE_FILES" | tr '\n' ' ' | sed 's/ $//')"
check "image: runs as 10001:10001" 10001:10001 "$(docker image inspect -f '{{.Config.User}}' "$API_IMAGE")"
check "the service process runs as uid 10001" 10001 "$(awk '/^Uid:/ { print $2 }' "/proc/$API_PID/status")"
check "PID 1 is the service" /app/tasks-api "$(tr '\0' '\n' <"/proc/$API_PID/cmdline" | head -n1)"
# sslrootcert=system in DATABASE_URL trusts what Bun reads as the system's roots: the image's CA file.
SYSTEM_ROOTS=$(docker run --rm --network none -e BUN_BE_BUN=1 "$API_IMAGE" -e 'console.log(require("node:tls").getCACertificates("system").length)' 2>&1 || true)
check "image: the system CA store (sslrootcert=system) has over 100 roots" yes "$([[ $SYSTEM_ROOTS =~ ^[0-9]+$ ]] && [ "$SYSTEM_ROOTS" -gt 100 ] && echo yes || echo "no ($SYSTEM_ROOTS)")"
check "no shell in the container" no "$(docker exec "$API_CID" /bin/sh -c true >/dev/null 2>&1 && echo yes || echo no)"
check "'tasks-api healthcheck' exits 0 while serving" 0 "$(docker exec "$API_CID" /app/tasks-api healthcheck >/dev/null 2>&1 && echo 0 || echo $?)"
check "'tasks-api healthcheck' exits 1 when nothing answers" 1 "$(docker exec -e PORT=1 "$API_CID" /app/tasks-api healthcheck >/dev/null 2>&1 && echo 0 || echo $?)"
# exposure: one way in, on loopback only
check "database port not published" "" "$(docker port "$DB_CID")"
check "api port not published (HAProxy is the way in)" "" "$(docker port "$API_CID")"
check "lb published on loopback only" "127.0.0.1:$API_PORT" "$(docker port "$LB_CID" 8000/tcp)"
check "lb: nothing else published" "8000/tcp -> 127.0.0.1:$API_PORT" "$(docker port "$LB_CID")"
for cid in "$DB_CID" "$API_CID" "$LB_CID"; do
	name=$(docker inspect -f '{{ index .Config.Labels "com.docker.compose.service" }}' "$cid")
	check "$name: memory, CPU and pids limits are set" yes "$(docker inspect -f '{{if and .HostConfig.Memory .HostConfig.NanoCpus .HostConfig.PidsLimit}}yes{{else}}no{{end}}' "$cid")"
	check "$name: json-file logs rotated (max-size, max-file)" "json-file 10m 3" "$(docker inspect -f '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}' "$cid")"
done
check "api: restarted on failure at most 5 times" on-failure:5 "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' "$API_CID")"

# the build context and the image
check "build context: none of the ${#PLANTED[@]} planted secrets reached the daemon" "" "$(echo $CONTEXT_LEAKS)"
check "build context: only what the Dockerfile copies" "bun.lock bunfig.toml drizzle package.json patches src tsconfig.json" "$CONTEXT_TOP"
check "build context: src/index.ts and the migrations are in it" yes "$(grep -qx src/index.ts <<<"$CONTEXT_FILES" && grep -q '^drizzle/.*\.sql$' <<<"$CONTEXT_FILES" && echo yes || echo no)"
check "image label version is package.json's" "$APP_VERSION" "$(docker image inspect -f '{{ index .Config.Labels "org.opencontainers.image.version" }}' "$API_IMAGE")"
check "image: no planted secret in any layer" 0 "$IMAGE_SECRET_HITS"
for label in title description version revision created; do
	check "image label org.opencontainers.image.$label is set" yes \
		"$([ -n "$(docker image inspect -f "{{ index .Config.Labels \"org.opencontainers.image.$label\" }}" "$API_IMAGE")" ] && echo yes || echo no)"
done

# ---------------------------------------------------------------------------------------------
# 7. stop and start: graceful SIGTERM, then a warm restart against the same database
log "docker stop api (SIGTERM)"
t=$(now)
docker stop -t 15 "$API_CID" >/dev/null
STOP_S=$(since "$t")
STOP_CODE=$(docker inspect -f '{{.State.ExitCode}}' "$API_CID")
check "api exits 0 on SIGTERM (not killed after the grace period)" 0 "$STOP_CODE"
t=$(now)
docker start "$API_CID" >/dev/null
wait_healthy "$API_CID" 60 || die "api did not become healthy again after a restart"
RESTART_S=$(since "$t")
wait_lb_ready 30 || die "HAProxy did not take the restarted api back"
check "GET /api/tasks/$KEPT_ID after restart -> 200" 200 "$(req GET "/api/tasks/$KEPT_ID")"

# A container that is still waiting for its database (nothing answers on 127.0.0.1:1 in a network
# namespace of its own) must stop at once too: PID 1 with its signal handlers already installed.
log "docker stop of an api container still waiting for its database"
WAIT_CID=$(docker run -d --network none --read-only --tmpfs /tmp -e BETTER_AUTH_SECRET \
	-e DATABASE_URL=postgres://tasks:unused@127.0.0.1:1/tasks -e DB_STARTUP_TIMEOUT_MS=60000 "$API_IMAGE")
for _ in $(seq 1 100); do docker logs "$WAIT_CID" 2>&1 | grep -q 'database unreachable at startup' && break; sleep 0.1; done
check "a container waiting for its database logs so" yes "$(docker logs "$WAIT_CID" 2>&1 | grep -q 'database unreachable at startup' && echo yes || echo no)"
t=$(now)
docker stop -t 10 "$WAIT_CID" >/dev/null
WAIT_STOP_S=$(since "$t")
check "docker stop while it waits for its database: exit 0" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$WAIT_CID")"
check "docker stop while it waits for its database: under 2 s" yes "$(awk -v s="$WAIT_STOP_S" 'BEGIN { print (s < 2 ? "yes" : "no (" s " s)") }')"
docker rm -f "$WAIT_CID" >/dev/null; WAIT_CID=""

# A bad secret exits 1 at once; the restart policy gives up after its 5 retries instead of looping.
log "a bad BETTER_AUTH_SECRET under the api's restart policy"
BAD_CID=$(docker run -d --network none --read-only --restart "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' "$API_CID")" \
	-e BETTER_AUTH_SECRET=too-short -e DATABASE_URL=postgres://tasks:unused@127.0.0.1:1/tasks "$API_IMAGE")
for _ in $(seq 1 300); do
	[ "$(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$BAD_CID")" = "exited 5" ] && break
	sleep 0.1
done
check "a bad secret: exit 1, restarted 5 times, then left exited" "exited 1 5" "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "$BAD_CID")"
check "a bad secret: one line naming BETTER_AUTH_SECRET per attempt" "6 6" "$(docker logs "$BAD_CID" 2>&1 | wc -l | tr -d ' ') $(docker logs "$BAD_CID" 2>&1 | grep -c BETTER_AUTH_SECRET)"
docker rm -f "$BAD_CID" >/dev/null; BAD_CID=""

# ---------------------------------------------------------------------------------------------
# 8. three replicas behind HAProxy, restarted one after the other under load
log "compose up --scale api=3"
run_logged scale compose up -d --no-build --scale api=3
mapfile -t API_CIDS < <(compose ps -q api)
check "three api replicas" 3 "${#API_CIDS[@]}"
for cid in "${API_CIDS[@]}"; do wait_healthy "$cid" 60 || die "replica ${cid:0:12} did not become healthy"; done
lb_ups() { docker logs "$LB_CID" 2>&1 | grep -c 'is UP' || true; }
# Wait until HAProxy has every replica in rotation: a full round-robin cycle reaches all three.
deadline=$(($(date +%s) + 30))
until [ "$(docker logs "$LB_CID" 2>&1 | grep -cE 'Server api/api[0-9]+ is UP' || true)" -ge 3 ] || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.2; done

mapfile -t LOAD_TOKENS < <(for i in 1 2 3 4 5 6 7 8; do mint_jwt "rolling-restart-$i"; done)
api_requests() { docker logs "$1" 2>&1 | grep -c '"msg":"request".*"path":"/api/tasks"' || true; }
load_worker() { # n: requests until $WORK/load-stop exists (at most 120 s, 20,000); "METHOD status" per line in $WORK/load.n
	local n=$1 i=0 token end=$(($(date +%s) + 120))
	while [ ! -e "$WORK/load-stop" ] && [ "$i" -lt 20000 ] && [ "$(date +%s)" -lt "$end" ]; do
		token=${LOAD_TOKENS[$(((n * 3 + i) % ${#LOAD_TOKENS[@]}))]}
		if [ $((i % 4)) = 0 ]; then
			printf 'POST %s\n' "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -H "Authorization: Bearer $token" \
				-H 'Content-Type: application/json' --data '{"title":"sent during a rolling restart"}' "$BASE_URL/api/tasks" || true)"
		else
			printf 'GET %s\n' "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $token" "$BASE_URL/api/tasks?limit=1" || true)"
		fi
		i=$((i + 1))
	done >"$WORK/load.$n"
}
declare -A BEFORE
for cid in "${API_CIDS[@]}"; do BEFORE[$cid]=$(api_requests "$cid"); done
rm -f "$WORK/load-stop"
for n in 1 2 3 4; do load_worker "$n" & LOAD_PIDS+=($!); done
sleep 2 # load on all three replicas first
log "rolling restart of ${#API_CIDS[@]} replicas under load (4 clients)"
t=$(now)
for cid in "${API_CIDS[@]}"; do
	ups=$(lb_ups)
	docker restart -t 15 "$cid" >/dev/null
	deadline=$(($(date +%s) + 30))
	until [ "$(lb_ups)" -gt "$ups" ] || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
	check "replica ${cid:0:12} restarted and back in HAProxy's rotation" yes "$([ "$(lb_ups)" -gt "$ups" ] && echo yes || echo no)"
done
ROLL_S=$(since "$t")
sleep 2 # and on all three again afterwards
touch "$WORK/load-stop"
wait "${LOAD_PIDS[@]}"
LOAD_SENT=$(cat "$WORK"/load.* | wc -l | tr -d ' ')
LOAD_FAILED=$(cat "$WORK"/load.* | grep -cvE '^(GET 200|POST 201)$' || true)
LOAD_SPREAD=$(for cid in "${API_CIDS[@]}"; do echo $(($(api_requests "$cid") - BEFORE[$cid])); done | tr '\n' ' ' | sed 's/ $//')
log "rolling restart: $LOAD_SENT requests, $LOAD_FAILED failed, per replica: $LOAD_SPREAD"
[ "$LOAD_FAILED" = 0 ] || cat "$WORK"/load.* | grep -vE '^(GET 200|POST 201)$' | sort | uniq -c | sed 's/^/       /'
check "rolling restart: requests sent" yes "$([ "$LOAD_SENT" -ge 100 ] && echo yes || echo "no ($LOAD_SENT)")"
check "rolling restart: zero failed requests" 0 "$LOAD_FAILED"
check "rolling restart: every replica served requests" yes "$(for c in $LOAD_SPREAD; do [ "$c" -gt 0 ] || echo no; done | grep -q no && echo no || echo yes)"

log "compose down -v"
t=$(now)
run_logged down compose down -v --remove-orphans --timeout 20
DOWN_S=$(since "$t")
STACK_UP=0

# ---------------------------------------------------------------------------------------------
# 9. figures
TOTAL_S=$(since "$SCRIPT_START")
cat <<EOF

==================== container-check ====================
image            $API_IMAGE: $(mb "$IMAGE_BYTES")
                 = /app/tasks-api $(mb "$BIN_BYTES") + $(mb "$((IMAGE_BYTES - BIN_BYTES))") of glibc, ld.so, CA certificates, passwd
stand-ins        ${STANDINS_S} s  ($BUN_IMAGE, $BASE_IMAGE, $PG_IMAGE, $LB_IMAGE; cached after the first run)
docker build     ${BUILD_S} s
up -> healthy    ${UP_HEALTHY_S} s  (fresh volume: initdb + db healthy + migrations + api healthy)
docker stop api  ${STOP_S} s  (exit code $STOP_CODE)
stop while waiting for the database  ${WAIT_STOP_S} s
restart->healthy ${RESTART_S} s
idle api CPU     $IDLE_CPU
compose down -v  ${DOWN_S} s
whole script     ${TOTAL_S} s
rolling restart  ${ROLL_S} s for 3 replicas: $LOAD_SENT requests, $LOAD_FAILED failed (per replica: $LOAD_SPREAD)
smoke: $PASSED passed, $FAILED failed
==========================================================
EOF
[ "$FAILED" = 0 ] || die "$FAILED smoke check(s) failed"
