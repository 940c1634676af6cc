#!/usr/bin/env bash
# Builds the resource metrics pipeline the real test node's HorizontalPodAutoscalers read:
# metrics-server (sigs.k8s.io/metrics-server), once, into a cache outside the repository keyed by
# version. A later run with the same version exits at once. The test runs it as a host process
# behind the control plane's API aggregation layer (v1beta1.metrics.k8s.io).
#
#   scripts/real-node/build-metrics-server.sh              build if missing, print the dir
#   scripts/real-node/build-metrics-server.sh --print-dir  print the dir, build nothing
#
# The custom metrics adapter the platform's `requests_per_second` HPA metric needs
# (sigs.k8s.io/prometheus-adapter) is not built: the Go module proxy refuses it here (403, "This
# module version is not available"). Progress goes to stderr; the only stdout line is the cache
# directory.
set -euo pipefail

readonly METRICS_SERVER_VERSION=v0.8.0
readonly RECIPE=1

readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/real-node"
readonly KEY="metrics-server-${METRICS_SERVER_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[metrics-server build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.24 (metrics-server is built from source)."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
START=$SECONDS
# The release's own version stamp (its Makefile's VERSION_LDFLAGS), so /version and its log name it.
readonly LDFLAGS="-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION -X k8s.io/client-go/pkg/version.buildDate=1970-01-01T00:00:00Z"
log "building metrics-server (sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION) ..."
GOBIN="$WORK/bin" go install -p 2 -trimpath -ldflags="$LDFLAGS" "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" \
  || die "building metrics-server failed (see the go output above; the Go module proxy may refuse a module)."
[[ -x "$WORK/bin/metrics-server" ]] || die "metrics-server is missing from the build output."

printf 'metrics-server=%s\nseconds=%s\n' "$METRICS_SERVER_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
