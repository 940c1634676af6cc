#!/usr/bin/env bash
# Builds Pebble (github.com/letsencrypt/pebble/v2), Let's Encrypt's ACME test server, and
# pebble-challtestsrv (its test DNS server) for the real-node test, which issues dev's edge
# certificate through ACME HTTP-01 against them, once, into a cache outside the repository keyed by
# version (the test makes the TLS certificate of Pebble's API itself, for each run). A later run
# with the same version exits at once.
#
#   scripts/edge/build-pebble.sh              build if missing, print the dir
#   scripts/edge/build-pebble.sh --print-dir  print the dir, build nothing
#
# Progress goes to stderr; the only stdout line is the cache directory.
set -euo pipefail

readonly PEBBLE_VERSION=v2.10.3
readonly RECIPE=2
readonly MODULE=github.com/letsencrypt/pebble/v2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/edge"
readonly KEY="pebble-${PEBBLE_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[pebble build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$HERE/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (Pebble is built from source)."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
START=$SECONDS

# go install builds a module's command at a version outside any module of ours: Pebble's go.mod
# has no replace directives.
log "building pebble and pebble-challtestsrv ..."
GOBIN="$WORK/bin" go install -trimpath -ldflags="-s -w" "$MODULE/cmd/pebble@$PEBBLE_VERSION" "$MODULE/cmd/pebble-challtestsrv@$PEBBLE_VERSION" \
  || die "building Pebble $PEBBLE_VERSION failed (see the go output above; the Go module proxy may refuse a dependency)."
for binary in pebble pebble-challtestsrv; do
  [[ -x "$WORK/bin/$binary" ]] || die "$binary is missing from the build output."
done

printf 'pebble=%s\nseconds=%s\n' "$PEBBLE_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
