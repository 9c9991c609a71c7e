#!/usr/bin/env bash
# Prints the path of a PgBouncer 1.21+ binary (the first version with max_prepared_statements), built
# once from Debian 13's source package and cached. Debian 12 ships 1.18. Nothing system-wide changes
# except the build dependencies, installed from the system's own Debian 12 sources: the trixie source
# index lives in a private apt state directory that is thrown away.
# Usage: .ci/pgbouncer.sh            (progress on stderr, the binary's path on stdout)
set -euo pipefail

cache=${XDG_CACHE_HOME:-$HOME/.cache}/tasks-api
found=$(ls -d "$cache"/pgbouncer-*/pgbouncer 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$found" ] && [ -x "$found" ]; then echo "$found"; exit 0; fi

# The same mirror the system uses for Debian 12 (deb.debian.org unless configured otherwise).
mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -1 | tr -d ' ' || true)
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo "deb-src $mirror trixie main" > "$work/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives" -o Debug::NoLocking=1)
# apt drops to the _apt user for downloads, which cannot write into this private temp dir.
[ "$(id -u)" -ne 0 ] || apt_private+=(-o APT::Sandbox::User=root)

{
  echo "pgbouncer: building from trixie source ($mirror)"
  need=()
  for pkg in libevent-dev libssl-dev libc-ares-dev pkg-config build-essential dpkg-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    sudo_=(); [ "$(id -u)" -eq 0 ] || sudo_=(sudo)
    "${sudo_[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"
  fi
  apt-get "${apt_private[@]}" update -qq
  (cd "$work" && apt-get "${apt_private[@]}" source -qq --download-only pgbouncer && dpkg-source -x --no-check pgbouncer_*.dsc src >/dev/null)
  version=$(cd "$work" && ls pgbouncer_*.dsc | sed -E 's/pgbouncer_([0-9.]+).*/\1/')
  # max_prepared_statements (protocol-level prepared statements in transaction mode) came in 1.21.
  [ "$(printf '%s\n' 1.21 "$version" | sort -V | head -1)" = 1.21 ] || { echo "pgbouncer: trixie has $version, need 1.21+" >&2; exit 1; }
  (cd "$work/src" && ./configure --without-systemd --prefix=/nonexistent -q && make -s -j"$(nproc)")
} >&2

dest="$cache/pgbouncer-$version"
mkdir -p "$dest"
install -m 0755 "$work/src/pgbouncer" "$dest/pgbouncer.tmp"
mv "$dest/pgbouncer.tmp" "$dest/pgbouncer"
"$dest/pgbouncer" --version >&2
echo "$dest/pgbouncer"
