#!/usr/bin/env bash
# Builds the External Secrets Operator's controller (github.com/external-secrets/external-secrets)
# the edge tests run as a host process against the test kube-apiserver, once, into a cache
# outside the repository keyed by version, with its CRDs beside it in crds/bundle.yaml (the
# release's own bundle: SecretStore, ClusterSecretStore, ExternalSecret and the rest the
# controller watches; plain YAML, no conversion webhook). A later run with the same version exits
# at once.
#
#   scripts/edge/build-external-secrets.sh              build if missing, print the dir
#   scripts/edge/build-external-secrets.sh --print-dir  print the dir, build nothing
#
# Only the root command is used (the core controller); its `webhook` and `certcontroller`
# subcommands are in the same binary but the tests do not start them. v0.16.2 is the newest
# release that builds from the Go module proxy: v1.3.2's go.mod points apis, runtime and every
# provider at nested modules (./apis, ./providers/v1/vault, ...) that the proxy does not serve
# (404), and only v1.x selects providers by build tag. v0.16.2 links every provider through two
# registry files instead, so the build rewrites those two files to register the Vault provider
# (plus the kubernetes and fake ones, which cost no dependencies) and four generators: that keeps
# the cloud SDKs (AWS, Azure, GCP, Oracle, IBM, ...) out of the download and the compile.
# Progress goes to stderr; the only stdout line is the cache directory.
set -euo pipefail

readonly EXTERNAL_SECRETS_VERSION=v0.16.2
readonly RECIPE=1
readonly MODULE=github.com/external-secrets/external-secrets

readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/edge"
readonly KEY="external-secrets-${EXTERNAL_SECRETS_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[external-secrets build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.24.2 (the External Secrets controller is built from source)."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin" "$WORK/crds"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
START=$SECONDS

log "downloading $MODULE@$EXTERNAL_SECRETS_VERSION (GOPROXY=$(go env GOPROXY))"
MODULE_DIR="$(module_dir "$MODULE@$EXTERNAL_SECRETS_VERSION")"
install -m 0644 "$MODULE_DIR/deploy/crds/bundle.yaml" "$WORK/crds/" \
  || die "the CRD bundle (deploy/crds/bundle.yaml) is missing from $MODULE@$EXTERNAL_SECRETS_VERSION."
# The module cache is read-only, and two of its files are rewritten below.
cp -r "$MODULE_DIR" "$WORK/src"
chmod -R u+w "$WORK/src"

# Upstream's registries import every provider and generator; these import the ones the tests use.
# The package names and the blank-import registration are upstream's; only the lists are shorter.
for pkg in pkg/provider/vault pkg/provider/kubernetes pkg/provider/fake \
  pkg/generator/password pkg/generator/uuid pkg/generator/fake pkg/generator/vault; do
  [[ -d "$WORK/src/$pkg" ]] || die "$pkg is missing from $MODULE@$EXTERNAL_SECRETS_VERSION; the registry rewrite below needs updating for this version."
done
cat >"$WORK/src/pkg/provider/register/register.go" <<EOF
// Package register: rewritten by scripts/edge/build-external-secrets.sh to register only the
// providers the tests use.
package register

import (
	_ "$MODULE/pkg/provider/fake"
	_ "$MODULE/pkg/provider/kubernetes"
	_ "$MODULE/pkg/provider/vault"
)
EOF
cat >"$WORK/src/pkg/generator/register/register.go" <<EOF
// Package register: rewritten by scripts/edge/build-external-secrets.sh to register only the
// generators the tests use.
package register

import (
	_ "$MODULE/pkg/generator/fake"
	_ "$MODULE/pkg/generator/password"
	_ "$MODULE/pkg/generator/uuid"
	_ "$MODULE/pkg/generator/vault"
)
EOF
log "source ready after $((SECONDS - START))s"

# No version stamp: upstream's Makefile sets none (`go build -o ... main.go`).
log "building external-secrets ($MODULE@$EXTERNAL_SECRETS_VERSION, providers: vault kubernetes fake) ..."
(cd "$WORK/src" && GOFLAGS=-buildvcs=false go build -p 2 -trimpath -ldflags="-s -w" -o "$WORK/bin/external-secrets" .) \
  || die "building external-secrets failed (see the go output above; the Go module proxy may refuse a dependency)."
[[ -x "$WORK/bin/external-secrets" ]] || die "external-secrets is missing from the build output."
# Only the binary and the CRDs are kept: the source is in the Go module cache anyway.
rm -rf "$WORK/src"

printf 'external-secrets=%s\nseconds=%s\n' "$EXTERNAL_SECRETS_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
