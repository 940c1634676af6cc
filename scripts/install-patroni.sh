#!/usr/bin/env bash
# Installs Patroni (with its Kubernetes DCS and the psycopg 3 driver) from PyPI into a virtualenv
# cached outside the repository, keyed by version, for the TimescaleDB failover test:
#
#   bash scripts/install-patroni.sh              # installs if needed; prints the venv's directory
#   bash scripts/install-patroni.sh --print-dir  # prints the directory without installing
#
# The test (test/cluster/timescaledb-failover.test.ts) calls it on first use, like the
# control-plane binaries. Idempotent: a complete venv (marked by .installed) is reused.
set -euo pipefail

PATRONI_VERSION=4.1.5
PSYCOPG_VERSION=3.3.9

cache="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/patroni-${PATRONI_VERSION}-psycopg-${PSYCOPG_VERSION}"
if [ "${1:-}" = --print-dir ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$(dirname "$cache")"
# Parallel test workers install once: the others wait here, then find it installed.
exec 9>"$cache.lock"
flock 9
if [ -f "$cache/.installed" ]; then
  echo "$cache"
  exit 0
fi

# The distribution's interpreter, where there is one: the test runs Patroni as the unprivileged
# `postgres` user (PostgreSQL refuses root), who must be able to execute it; an interpreter under
# a private home directory (pyenv) is not reachable for that user.
python=/usr/bin/python3
[ -x "$python" ] || python="$(command -v python3 || true)"
[ -n "$python" ] || { echo "install-patroni: python3 not found" >&2; exit 1; }

# An interrupted install leaves no .installed marker: start over. (The venv is built in place
# because a venv's scripts carry its absolute path.)
rm -rf "$cache"
mkdir -p "$cache"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { "$python" -m venv "$cache" && \
       "$cache/bin/pip" install --quiet --disable-pip-version-check --no-input \
         "patroni[kubernetes]==${PATRONI_VERSION}" "psycopg[binary]==${PSYCOPG_VERSION}" && \
       "$cache/bin/patroni" --version; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-patroni: installing patroni ${PATRONI_VERSION} into $cache failed" >&2
  exit 1
fi
touch "$cache/.installed"
echo "$cache"
