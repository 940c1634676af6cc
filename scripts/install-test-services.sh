#!/usr/bin/env bash
# Installs the servers the tests run for real, from Debian's packages: redis-server, redis-sentinel
# and the PostgreSQL server (the engine contract and Redis failover tests, test/contract), and
# `prometheus`, which ships promtool and the Prometheus server (the rule tests and the end-to-end
# monitoring test, test/monitoring), pgBackRest (the TimescaleDB failover test,
# test/cluster/timescaledb-failover.test.ts), prometheus-redis-exporter (oliver006/redis_exporter,
# the release prod's exporter image pins, for test/contract/store-exporters.test.ts; the Go module
# proxy refuses the module), and python3-venv where python3 lacks it (Patroni's
# and the manifest linters' virtualenvs). Idempotent and quiet: does nothing when all are already
# installed, so CI can run it on every build.
#
#   bash scripts/install-test-services.sh
#
# The test itself finds the binaries on PATH or under /usr/lib/postgresql/<version>/bin (where
# Debian puts them), and runs PostgreSQL as the unprivileged `postgres` user the package creates
# when the test runs as root (the server refuses to run as root).
set -euo pipefail

have_redis() { command -v redis-server >/dev/null 2>&1; }
have_sentinel() { command -v redis-sentinel >/dev/null 2>&1; }
have_postgres() {
  command -v postgres >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

have_prometheus() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }
have_pgbackrest() { command -v pgbackrest >/dev/null 2>&1; }
have_redis_exporter() { command -v prometheus-redis-exporter >/dev/null 2>&1; }
# scripts/install-patroni.sh and scripts/install-linters.sh build their virtualenvs with the
# distribution's python3, whose venv module Debian ships separately.
have_venv() { /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }

packages=()
have_redis || packages+=(redis-server)
have_sentinel || packages+=(redis-sentinel)
have_postgres || packages+=(postgresql)
have_prometheus || packages+=(prometheus)
have_pgbackrest || packages+=(pgbackrest)
have_redis_exporter || packages+=(prometheus-redis-exporter)
have_venv || packages+=(python3-venv)
if [ "${#packages[@]}" -eq 0 ]; then
  exit 0
fi

# The tests start their own servers in temp dirs on free ports, never the packages' system services.
# shellcheck source=lib/apt-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
apt_install install-test-services "${packages[@]}" || exit 1

have_redis || { echo "install-test-services: redis-server still missing after install" >&2; exit 1; }
have_sentinel || { echo "install-test-services: redis-sentinel still missing after install" >&2; exit 1; }
have_postgres || { echo "install-test-services: postgres/initdb still missing after install" >&2; exit 1; }
have_prometheus || { echo "install-test-services: prometheus/promtool still missing after install" >&2; exit 1; }
have_venv || { echo "install-test-services: python3 venv module still missing after install" >&2; exit 1; }
have_pgbackrest || { echo "install-test-services: pgbackrest still missing after install" >&2; exit 1; }
