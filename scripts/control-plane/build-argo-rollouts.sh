#!/usr/bin/env bash
# Builds the Argo Rollouts controller (github.com/argoproj/argo-rollouts, cmd/rollouts-controller)
# the cluster tests run against the control plane, once, into a cache outside the repository keyed
# by version, with upstream's ClusterRole beside it (the tests bind the controller's identity to it
# rather than to a role of ours). A later run with the same version exits at once.
#
#   scripts/control-plane/build-argo-rollouts.sh              build if missing, print the dir
#   scripts/control-plane/build-argo-rollouts.sh --print-dir  print the dir, build nothing
#
# `go install module@version` cannot build this module: its go.mod has replace directives (the
# k8s.io staging modules), which go install refuses. The module's own source is built instead, in
# module mode, from the Go module cache. Progress goes to stderr; the only stdout line is the
# cache directory.
set -euo pipefail

# scripts/regenerate-imports.sh pins the same version (ARGO_ROLLOUTS_VERSION: the CRDs the
# constructs are typed against); change both together. v1.10.2 needs a newer Go than this
# machine's toolchain.
readonly ARGO_ROLLOUTS_VERSION=v1.10.1
readonly RECIPE=1
readonly MODULE=github.com/argoproj/argo-rollouts

readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/control-plane"
readonly KEY="argo-rollouts-${ARGO_ROLLOUTS_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[argo-rollouts build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26.1 (the Argo Rollouts controller is built from source)."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin" "$WORK/manifests"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
START=$SECONDS

log "downloading $MODULE@$ARGO_ROLLOUTS_VERSION (GOPROXY=$(go env GOPROXY))"
MODULE_DIR="$(module_dir "$MODULE@$ARGO_ROLLOUTS_VERSION")"
# The module cache is read-only; the build writes nothing there, but go.sum may need filling in.
cp -r "$MODULE_DIR" "$WORK/src"
chmod -R u+w "$WORK/src"
install -m 0644 "$WORK/src/manifests/role/argo-rollouts-clusterrole.yaml" "$WORK/manifests/" \
  || die "upstream's ClusterRole (manifests/role/argo-rollouts-clusterrole.yaml) is missing from $MODULE@$ARGO_ROLLOUTS_VERSION."

# The release's version stamp as its Makefile sets it (the VERSION file's form, without the "v" the
# code adds), so `rollouts-controller version` and its start-up log say v1.10.1+unknown rather than
# v99.99.99+unknown: "+unknown" because the module has no git commit to stamp.
readonly LDFLAGS="-s -w -X $MODULE/utils/version.version=${ARGO_ROLLOUTS_VERSION#v} -X $MODULE/utils/version.buildDate=1970-01-01T00:00:00Z"
log "building rollouts-controller ($MODULE/cmd/rollouts-controller@$ARGO_ROLLOUTS_VERSION) ..."
(cd "$WORK/src" && GOFLAGS=-buildvcs=false go build -p 2 -trimpath -ldflags="$LDFLAGS" -o "$WORK/bin/rollouts-controller" ./cmd/rollouts-controller) \
  || die "building rollouts-controller failed (see the go output above; the Go module proxy may refuse a dependency)."
[[ -x "$WORK/bin/rollouts-controller" ]] || die "rollouts-controller is missing from the build output."
# Only the binary and the role are kept: the source is in the Go module cache anyway.
rm -rf "$WORK/src"

printf 'argo-rollouts=%s\nseconds=%s\n' "$ARGO_ROLLOUTS_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
