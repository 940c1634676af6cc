#!/usr/bin/env bash
# Builds the pinned control-plane binaries the cluster tests run (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok) from
# the Go module proxy, once, into a cache outside the repository keyed by
# version. A later run with the same versions exits at once.
#
#   scripts/control-plane/build.sh              build if missing, print the dir
#   scripts/control-plane/build.sh --print-dir  print the dir, build nothing
#
# The cache root is ${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}. A build is
# made in a temporary sibling directory and renamed into place only after every
# binary and the stamp file exist, so an interrupted build never looks complete.
# Progress goes to stderr; the only stdout line is the cache directory.
set -euo pipefail

# The versions are pinned here and in the wrapper modules under go/; build.sh
# checks that they agree so that a bump cannot silently reuse a stale cache.
readonly K8S_VERSION=v1.36.3
readonly ETCD_VERSION=v3.6.16
readonly KWOK_VERSION=v0.8.0

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/control-plane"
readonly KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
readonly DEST="$CACHE_ROOT/$KEY"
readonly STAMP_NAME=".complete"
readonly BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

log() { printf '[control-plane build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$HERE/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (the binaries are built from source)."

grep -q "k8s.io/kubernetes $K8S_VERSION" "$HERE/go/kubernetes/go.mod" \
  || die "go/kubernetes/go.mod does not require k8s.io/kubernetes $K8S_VERSION; bump both build.sh and the wrapper module together."
grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$HERE/go/etcd/go.mod" \
  || die "go/etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION; bump both build.sh and the wrapper module together."

begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin" "$WORK/stages"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
BUILD_START=$SECONDS

# Fetch every module first so that a missing proxy fails fast with a clear
# message instead of halfway through a 20-minute compile. A warm module cache
# needs no network at all.
download() {
  local dir="$1" what="$2" out
  if ! out="$(cd "$dir" && go mod download 2>&1)"; then
    printf '%s\n' "$out" | tail -n 20 >&2
    die "could not download the Go modules for $what. The Go module proxy (GOPROXY=$(go env GOPROXY)) is unreachable or refused a module; the control-plane binaries are built from source and need it (or a warm module cache in $(go env GOMODCACHE))."
  fi
}
log "downloading Go modules (GOPROXY=$(go env GOPROXY))"
download "$HERE/go/etcd" "etcd $ETCD_VERSION"
download "$HERE/go/kubernetes" "kubernetes $K8S_VERSION"
KWOK_DIR="$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")"
log "modules ready after $((SECONDS - BUILD_START))s"

build_one() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" start=$SECONDS
  log "building $name ($pkg) ..."
  (cd "$dir" && go build -p 2 -trimpath -ldflags="$ldflags" -o "$WORK/bin/$name" "$pkg") \
    || die "building $name failed (see the go output above)."
  log "built $name in $((SECONDS - start))s (total $((SECONDS - BUILD_START))s)"
}

# One binary at a time: each link of a Kubernetes binary alone saturates 2 cores.
build_one etcd "$HERE/go/etcd" go.etcd.io/etcd/server/v3 "-s -w"
build_one kube-apiserver "$HERE/go/kubernetes" k8s.io/kubernetes/cmd/kube-apiserver "$(k8s_ldflags "$K8S_VERSION")"
build_one kube-controller-manager "$HERE/go/kubernetes" k8s.io/kubernetes/cmd/kube-controller-manager "$(k8s_ldflags "$K8S_VERSION")"
build_one kube-scheduler "$HERE/go/kubernetes" k8s.io/kubernetes/cmd/kube-scheduler "$(k8s_ldflags "$K8S_VERSION")"
build_one kubectl "$HERE/go/kubernetes" k8s.io/kubernetes/cmd/kubectl "$(k8s_ldflags "$K8S_VERSION")"

start=$SECONDS
log "building kwok (sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION) ..."
GOBIN="$WORK/bin" go install -p 2 -trimpath \
  -ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
  "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || die "building kwok failed (see the go output above)."
log "built kwok in $((SECONDS - start))s (total $((SECONDS - BUILD_START))s)"

# kwok fakes kubelets only through the stages it is given; these are the ones
# its own "fast" preset uses (node/fast, node/heartbeat(-with-lease), pod/fast).
for stage in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  [[ -f "$KWOK_DIR/kustomize/stage/$stage" ]] || die "kwok $KWOK_VERSION no longer ships kustomize/stage/$stage; update the stage list in build.sh."
  install -m 0644 "$KWOK_DIR/kustomize/stage/$stage" "$WORK/stages/$(basename "$stage")"
done

for name in "${BINARIES[@]}"; do
  [[ -x "$WORK/bin/$name" ]] || die "$name is missing from the build output."
done
printf 'k8s=%s\netcd=%s\nkwok=%s\nbuilt=%s\nseconds=%s\n' \
  "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$((SECONDS - BUILD_START))" >"$WORK/$STAMP_NAME"
publish_cached_build "$DEST"
log "done in $((SECONDS - BUILD_START))s: $DEST"
