#!/usr/bin/env bash
# Builds the pinned binaries of the real test node (kubelet, kube-proxy, CoreDNS, the pod sandbox's
# pause) once, into a cache outside the repository keyed by version. A later run with the same
# versions exits at once. containerd, runc and the CNI plugins come from Debian
# (scripts/install-container-tools.sh).
#
#   scripts/real-node/build.sh              build if missing, print the dir
#   scripts/real-node/build.sh --print-dir  print the dir, build nothing
#
# kubelet and kube-proxy are the control plane's release (v1.36.3), built from the same wrapper
# module as the control plane (scripts/control-plane/go/kubernetes). kubelet 1.36 still accepts
# containerd 1.x (Debian bookworm's 1.6): it falls back to its own cgroupDriver setting when the
# runtime does not answer the RuntimeConfig call; that fallback goes in 1.37.
# pause is compiled from the release's own build/pause/linux/pause.c (static, with the machine's C
# compiler); CoreDNS is `go install github.com/coredns/coredns@v1.15.0`.
# Progress goes to stderr; the only stdout line is the cache directory.
set -euo pipefail

readonly K8S_VERSION=v1.36.3
readonly COREDNS_VERSION=v1.15.0
readonly RECIPE=1

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly WRAPPER="$HERE/../control-plane/go/kubernetes"
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/real-node"
readonly KEY="k8s-${K8S_VERSION}_coredns-${COREDNS_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"
readonly BINARIES=(kubelet kube-proxy coredns pause)

log() { printf '[real-node build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$HERE/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (the node's binaries are built from source)."
command -v cc >/dev/null || die "no C compiler (cc) on PATH; install gcc and libc6-dev (Debian) to compile pause."
grep -q "k8s.io/kubernetes $K8S_VERSION" "$WRAPPER/go.mod" \
  || die "$WRAPPER/go.mod does not require k8s.io/kubernetes $K8S_VERSION; bump build.sh with the control plane."

begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
START=$SECONDS

log "downloading Go modules (GOPROXY=$(go env GOPROXY))"
(cd "$WRAPPER" && go mod download) \
  || die "could not download the Go modules of k8s.io/kubernetes $K8S_VERSION from the Go module proxy."
K8S_DIR="$(cd "$WRAPPER" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)"

for name in kubelet kube-proxy; do
  start=$SECONDS
  log "building $name (k8s.io/kubernetes/cmd/$name $K8S_VERSION) ..."
  (cd "$WRAPPER" && go build -p 2 -trimpath -ldflags="$(k8s_ldflags "$K8S_VERSION")" -o "$WORK/bin/$name" "k8s.io/kubernetes/cmd/$name") \
    || die "building $name failed (see the go output above)."
  log "built $name in $((SECONDS - start))s"
done

start=$SECONDS
log "building coredns (github.com/coredns/coredns@$COREDNS_VERSION) ..."
GOBIN="$WORK/bin" go install -p 2 -trimpath -ldflags="-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" \
  || die "building coredns failed (see the go output above; the Go module proxy may refuse a module)."
log "built coredns in $((SECONDS - start))s"

log "compiling pause from $K8S_DIR/build/pause/linux/pause.c"
cc -Os -Wall -Werror -static -DVERSION="$K8S_VERSION" -o "$WORK/bin/pause" "$K8S_DIR/build/pause/linux/pause.c" \
  || die "compiling pause failed: a static build needs libc6-dev (Debian)."
strip "$WORK/bin/pause" 2>/dev/null || true

for name in "${BINARIES[@]}"; do
  [[ -x "$WORK/bin/$name" ]] || die "$name is missing from the build output."
done
printf 'k8s=%s\ncoredns=%s\nseconds=%s\n' "$K8S_VERSION" "$COREDNS_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
