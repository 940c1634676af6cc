#!/usr/bin/env bash
# Builds the Vault server (github.com/hashicorp/vault) the edge tests run as a host process
# (`vault server -dev` on a loopback port) for cert-manager's and External Secrets' Vault
# backends, once, into a cache outside the repository keyed by version. A later run with the same
# version exits at once.
#
#   scripts/edge/build-vault.sh              build if missing, print the dir
#   scripts/edge/build-vault.sh --print-dir  print the dir, build nothing
#
# Vault's go.mod points its api, api/auth/* and sdk modules at ./api and ./sdk, which are nested
# modules left out of its module zip, so neither `go install` nor a build of the module's own
# source works. The wrapper module in go/vault/ requires Vault and resolves those to published
# versions: api v1.22.0 and sdk v0.20.0, the ones Vault v1.21.2's go.mod names. v1.21.2 rather
# than the newer v1.21.3/v1.21.4: a release branch's own ./sdk drifts from the published sdk
# tags, and v1.21.4 needs a LockManager.RestorePolicy that returns two values (sdk >= v0.24.0)
# together with a two-argument framework ActivationFunc (sdk <= v0.20.0), which no published sdk
# has; v1.21.3's go.mod names sdk v0.21.0, whose ActivationFunc already takes three.
# Upstream's `minimal` build tag (its Makefile's BUILD_MINIMAL) keeps the server to the core
# plugins: auth approle, cert, jwt/oidc, userpass and token; secrets kv, pki, ssh, transit; no
# cloud auth or database plugins, no kubernetes auth. Without the `ui` tag the web UI is left out
# too. Progress goes to stderr; the only stdout line is the cache directory.
set -euo pipefail

# go/vault/go.mod requires the same version; change both together.
readonly VAULT_VERSION=v1.21.2
readonly RECIPE=1
readonly MODULE=github.com/hashicorp/vault

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/edge"
readonly KEY="vault-${VAULT_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[vault build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$HERE/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (Vault is built from source)."
grep -Eq "^(require )?[[:space:]]*$MODULE $VAULT_VERSION( // indirect)?\$" "$HERE/go/vault/go.mod" \
  || die "go/vault/go.mod does not require $MODULE $VAULT_VERSION; bump both this script and the wrapper module together."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
readonly TAGS=minimal
START=$SECONDS

# Only the modules the minimal server imports (a `go mod download` of the whole graph would fetch
# every plugin's cloud SDK too), fetched before the compile so that a refusal fails fast.
log "downloading the Go modules Vault's minimal build imports (GOPROXY=$(go env GOPROXY))"
if ! out="$(cd "$HERE/go/vault" && go list -tags "$TAGS" -deps "$MODULE" 2>&1 >/dev/null)"; then
  printf '%s\n' "$out" | tail -n 20 >&2
  die "could not download the Go modules for Vault $VAULT_VERSION. The Go module proxy (GOPROXY=$(go env GOPROXY)) is unreachable or refused a module."
fi
log "modules ready after $((SECONDS - START))s"

# The release's version stamp as its CI sets it (scripts/ci-helper.sh); the VERSION file it
# embeds says the same, and the build date is fixed so that the binary does not vary.
readonly LDFLAGS="-s -w -X $MODULE/version.Version=${VAULT_VERSION#v} -X $MODULE/version.BuildDate=1970-01-01T00:00:00Z"
log "building vault ($MODULE@$VAULT_VERSION, tags: $TAGS) ..."
(cd "$HERE/go/vault" && go build -p 2 -tags "$TAGS" -trimpath -ldflags="$LDFLAGS" -o "$WORK/bin/vault" "$MODULE") \
  || die "building vault failed (see the go output above; the Go module proxy may refuse a dependency)."
[[ -x "$WORK/bin/vault" ]] || die "vault is missing from the build output."
# Captured first: grep -q stops reading at its match, and a writer killed by SIGPIPE would fail the pipeline.
version="$("$WORK/bin/vault" version 2>&1)" || die "the built vault does not run (\`vault version\` says: $version)."
grep -q "^Vault $VAULT_VERSION" <<<"$version" || die "the built vault does not report $VAULT_VERSION (\`vault version\` says: $version)."

printf 'vault=%s\ntags=%s\nseconds=%s\n' "$VAULT_VERSION" "$TAGS" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
