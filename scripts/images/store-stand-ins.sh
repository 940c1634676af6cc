#!/usr/bin/env bash
# Builds local stand-ins for the data stores' third-party images and imports them into the local
# image store (containers-storage) under the references the manifests use, so a real test node can
# run the stores without a registry:
#
#   scripts/images/store-stand-ins.sh --redis <ref> --exporter <ref> --timescaledb <ref>
#
# (the references come from the catalog, src/catalog/data-stores.ts; the test passes them).
# No container registry is reachable here, so redis, oliver006/redis_exporter and
# timescale/timescaledb-ha cannot be pulled. The stand-ins are one Debian bookworm root filesystem
# (mmdebstrap, the machine's apt sources) with the programs the manifests run, laid out as those
# images lay them out, imported three times with each image's own user and entrypoint:
#   - Redis: Debian's redis-server, redis-sentinel and redis-cli on PATH, user redis uid/gid 999,
#     /data (the official image's layout). Debian bookworm ships Redis 7.0, not 7.4.
#   - redis_exporter: Debian's prometheus-redis-exporter 1.45.0 (the release the catalog pins) as
#     /redis_exporter, the official image's entrypoint.
#   - TimescaleDB: Debian's PostgreSQL 15 (bookworm has no 16; the manifests'
#     /usr/lib/postgresql/16/bin is a link to 15's binaries), pgBackRest, and Patroni (the
#     catalog's release, from PyPI, in /opt/patroni with `patroni` on PATH); user postgres uid/gid
#     1000 with home /home/postgres, as in timescaledb-ha. Debian has no timescaledb package: an
#     empty extension of that name stands in (a library PostgreSQL accepts in
#     shared_preload_libraries and a CREATE EXTENSION script with no objects), so the generated
#     configuration and post-bootstrap script run unchanged; no hypertable function exists.
# What this proves is our configuration, scripts, probes, Role and Secrets working inside real
# pods; it cannot prove the upstream images themselves.
#
# The root filesystem is cached outside the repository by recipe:
#   ${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/base-images/<key>/rootfs.tar
# Progress goes to stderr; nothing is printed on stdout.
set -euo pipefail

readonly PATRONI_VERSION=4.1.5
readonly PSYCOPG_VERSION=3.3.9
readonly SUITE=bookworm
# Bump when the recipe below changes.
readonly RECIPE=2

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[store stand-ins %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

redis_ref="" exporter_ref="" timescaledb_ref=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --redis) redis_ref="$2"; shift 2 ;;
    --exporter) exporter_ref="$2"; shift 2 ;;
    --timescaledb) timescaledb_ref="$2"; shift 2 ;;
    *) die "unknown argument $1 (usage: store-stand-ins.sh --redis <ref> --exporter <ref> --timescaledb <ref>)" ;;
  esac
done
[[ -n "$redis_ref" && -n "$exporter_ref" && -n "$timescaledb_ref" ]] \
  || die "usage: store-stand-ins.sh --redis <ref> --exporter <ref> --timescaledb <ref>"

# shellcheck source=container-tools.sh
source "$HERE/container-tools.sh"
# shellcheck source=../lib/rootfs.sh
source "$HERE/../lib/rootfs.sh"
require_container_tools podman mmdebstrap python3

readonly KEY="stores-${SUITE}-patroni-${PATRONI_VERSION}-psycopg-${PSYCOPG_VERSION}-$(dpkg --print-architecture)-r${RECIPE}"
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/base-images"
readonly DEST="$CACHE_ROOT/$KEY"

# podman names a short reference docker.io/library/<name> (docker.io/<name> with a path).
qualified() {
  local ref="$1"
  case "$ref" in
    */*/*) echo "$ref" ;;
    *.*/*|localhost/*) echo "$ref" ;;
    */*) echo "docker.io/$ref" ;;
    *) echo "docker.io/library/$ref" ;;
  esac
}
imported() { stand_in_imported "$(qualified "$1")" "$KEY"; }

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9
if imported "$redis_ref" && imported "$exporter_ref" && imported "$timescaledb_ref"; then
  exit 0
fi

if [[ ! -f "$DEST/.complete" ]]; then
  start=$SECONDS
  rm -rf "$DEST"
  work="$(mktemp -d "$CACHE_ROOT/.tmp-$KEY.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "downloading Patroni ${PATRONI_VERSION} and psycopg ${PSYCOPG_VERSION} wheels from PyPI"
  # The wheels are fetched on the machine (its pip has the registry's CA) and installed offline
  # inside the image, with the image's own Python (the same Debian release as the machine's).
  python3 -m pip download --quiet --disable-pip-version-check --dest "$work/wheels" \
    "patroni[kubernetes]==${PATRONI_VERSION}" "psycopg[binary]==${PSYCOPG_VERSION}" >&2 \
    || die "pip download of patroni ${PATRONI_VERSION} / psycopg ${PSYCOPG_VERSION} failed: is PyPI reachable?"

  # The empty timescaledb extension. Its library carries only PostgreSQL 15's module magic block
  # (fmgr.h's Pg_magic_struct, written out so that no server headers need installing).
  cat >"$work/timescaledb.c" <<'C'
typedef struct { int len, version, funcmaxargs, indexmaxkeys, namedatalen, float8byval; char abi_extra[32]; } Pg_magic_struct;
const Pg_magic_struct *Pg_magic_func(void) {
  static const Pg_magic_struct magic = { sizeof(Pg_magic_struct), 1500, 100, 32, 64, 1, "PostgreSQL" };
  return &magic;
}
C
  cc -shared -fPIC -O2 -o "$work/timescaledb.so" "$work/timescaledb.c" || die "compiling the stand-in timescaledb library failed (needs cc)."
  printf "comment = 'stand-in for TimescaleDB in the test images: no objects'\ndefault_version = '2.17.2'\nmodule_pathname = '\$libdir/timescaledb'\nrelocatable = false\n" >"$work/timescaledb.control"
  printf -- "-- stand-in for TimescaleDB in the test images: no objects\n" >"$work/timescaledb--2.17.2.sql"

  mapfile -t sources < <(machine_apt_sources)
  log "building Debian ${SUITE} with Redis, redis_exporter, PostgreSQL, pgBackRest and Patroni (mmdebstrap)"
  # Debian gives redis and postgres system uids; the images these stand in for use 999 and 1000.
  # shellcheck disable=SC2016 # the hooks are evaluated by mmdebstrap, with $1 the root.
  SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=minbase --mode=root \
    --include=redis-server,redis-sentinel,redis-tools,prometheus-redis-exporter,postgresql-15,postgresql-client-15,pgbackrest,python3,python3-venv,ca-certificates,procps \
    --customize-hook='chroot "$1" groupmod --gid 999 redis && chroot "$1" usermod --uid 999 --home /data redis' \
    --customize-hook='chroot "$1" groupmod --gid 1000 postgres && chroot "$1" usermod --uid 1000 --home /home/postgres postgres' \
    --customize-hook='mkdir -p "$1/data" "$1/home/postgres/pgdata" && chroot "$1" chown -R redis:redis /data /var/lib/redis /var/log/redis /etc/redis && chroot "$1" chown -R postgres:postgres /home/postgres /var/lib/postgresql /var/log/postgresql /var/run/postgresql /etc/postgresql' \
    --customize-hook='ln -s 15 "$1/usr/lib/postgresql/16" && ln -s /usr/bin/prometheus-redis-exporter "$1/redis_exporter"' \
    --customize-hook="cp '$work/timescaledb.so' \"\$1/usr/lib/postgresql/15/lib/\" && cp '$work/timescaledb.control' '$work/timescaledb--2.17.2.sql' \"\$1/usr/share/postgresql/15/extension/\"" \
    --customize-hook="mkdir -p \"\$1/tmp/wheels\" && cp '$work/wheels/'* \"\$1/tmp/wheels/\"" \
    --customize-hook='chroot "$1" python3 -m venv /opt/patroni && chroot "$1" env -i PATH=/usr/bin:/bin /opt/patroni/bin/pip install --quiet --no-index --find-links /tmp/wheels --disable-pip-version-check patroni[kubernetes] psycopg[binary] && rm -rf "$1/tmp/wheels" && ln -s /opt/patroni/bin/patroni /opt/patroni/bin/patronictl "$1/usr/local/bin/"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
    "$SUITE" "$work/rootfs.tar" "${sources[@]}" >&2 \
    || die "mmdebstrap could not build the stores' root filesystem; see its output above."
  publish_rootfs "$work" "$DEST" "$((SECONDS - start))" "patroni=$PATRONI_VERSION" "psycopg=$PSYCOPG_VERSION"
  rm -rf "$work"
  trap - EXIT
  log "root filesystem built in $((SECONDS - start))s"
fi

path_env="ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
import() { # ref, then --change arguments
  local ref; ref="$(qualified "$1")"; shift
  podman import --quiet --change "$path_env" --change "LABEL $STAND_IN_LABEL=$KEY" "$@" "$DEST/rootfs.tar" "$ref" >/dev/null \
    || die "podman import of $ref failed"
  log "imported $ref"
}
import "$redis_ref" --change 'USER 999:999' --change 'WORKDIR /data' --change 'CMD ["redis-server"]'
import "$exporter_ref" --change 'USER 59000:59000' --change 'ENTRYPOINT ["/redis_exporter"]'
import "$timescaledb_ref" --change 'USER 1000:1000' --change 'WORKDIR /home/postgres' --change 'CMD ["patroni"]'

# The programs the manifests call are there, as the users the pods run as.
check() { # ref, user, command...
  local ref="$1" user="$2"; shift 2
  podman run --rm --network=none --user "$user" --entrypoint "$1" "$(qualified "$ref")" "${@:2}" >/dev/null 2>&1 \
    || die "the stand-in $ref cannot run '$*' as $user"
}
check "$redis_ref" 999 redis-server --version
check "$redis_ref" 999 redis-sentinel --version
check "$redis_ref" 999 redis-cli --version
check "$exporter_ref" 999 /redis_exporter --version
check "$timescaledb_ref" 1000 patroni --version
check "$timescaledb_ref" 1000 pgbackrest version
check "$timescaledb_ref" 1000 /usr/lib/postgresql/16/bin/postgres --version
