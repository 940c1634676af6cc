#!/usr/bin/env bash
# Builds the NetworkPolicy implementation the real test node enforces policies with: kube-router's
# firewall controller (github.com/cloudnativelabs/kube-router/v2, run with --run-firewall only), once,
# into a cache outside the repository keyed by version. A later run with the same version exits at once.
#
#   scripts/real-node/build-network-policy.sh              build if missing, print the dir
#   scripts/real-node/build-network-policy.sh --print-dir  print the dir, build nothing
#
# Why kube-router: it renders NetworkPolicies as iptables rules and ipsets, both of which this
# machine's kernel has (CONFIG_IP_SET, the xt_set, physdev, conntrack and NFQUEUE matches).
# sigs.k8s.io/kube-network-policies needs the nftables `queue` statement (CONFIG_NFT_QUEUE), which
# the kernel here lacks; Calico's Felix and Cilium need far more than a Go build (BPF programs,
# their own CNI). v2.1.0 is the only v2 release the Go module proxy serves here; it has published
# security advisories, acceptable for a test-only enforcer inside the node's own network namespace.
# Progress goes to stderr; the only stdout line is the cache directory.
set -euo pipefail

readonly KUBE_ROUTER_VERSION=v2.1.0
readonly RECIPE=1

readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/real-node"
readonly KEY="kube-router-${KUBE_ROUTER_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[network-policy build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (kube-router is built from source)."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
START=$SECONDS
log "building kube-router (github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION) ..."
GOBIN="$WORK/bin" go install -p 2 -trimpath -ldflags="-s -w" "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION" \
  || die "building kube-router failed (see the go output above; the Go module proxy may refuse a module)."
[[ -x "$WORK/bin/kube-router" ]] || die "kube-router is missing from the build output."

printf 'kube-router=%s\nseconds=%s\n' "$KUBE_ROUTER_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
