#!/usr/bin/env bash
# Builds the Traefik proxy (github.com/traefik/traefik/v3) the real-node test runs as a pod (its image
# is the binary alone, test/cluster/edge-proxy.ts):
# the Gateway API implementation (HTTPRoute with TLS termination and websockets) and, through its
# second provider, an Ingress controller, against the test kube-apiserver. Built once, into a
# cache outside the repository keyed by version, with the Gateway API CRDs it implements beside it
# in crds/ (the standard channel's GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant and
# BackendTLSPolicy: Traefik watches all six, so all six must be installed). A later run with the
# same versions exits at once.
#
#   scripts/edge/build-traefik.sh              build if missing, print the dir
#   scripts/edge/build-traefik.sh --print-dir  print the dir, build nothing
#
# v3.6.12, not the newer v3.7.x: the Go module proxy refuses (403) modules v3.7.13 needs (its own
# fork github.com/containous/go-http-auth at the pseudo-version v3.7 pins, and the SDKs of several
# of lego v5's DNS providers), and v3.7's go.mod also points github.com/traefik/traefik/dynamic/ext
# at a nested module that is neither in its zip nor served. v3.6.12 implements Gateway API v1.4
# (its docs: "supports Standard version v1.4.0"; its client is gateway-api v1.4.0), so the CRDs
# are gateway-api v1.4.1's, not a newer release's. The wrapper module in go/traefik/ exists
# because go install refuses a module with replace directives. Progress goes to stderr; the only
# stdout line is the cache directory.
set -euo pipefail

# go/traefik/go.mod requires the same Traefik version; change both together.
readonly TRAEFIK_VERSION=v3.6.12
readonly GATEWAY_API_VERSION=v1.4.1
readonly RECIPE=1
readonly MODULE=github.com/traefik/traefik/v3

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/edge"
readonly KEY="traefik-${TRAEFIK_VERSION}_gateway-api-${GATEWAY_API_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[traefik build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$HERE/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (Traefik is built from source)."
grep -Eq "^(require )?[[:space:]]*$MODULE $TRAEFIK_VERSION( // indirect)?\$" "$HERE/go/traefik/go.mod" \
  || die "go/traefik/go.mod does not require $MODULE $TRAEFIK_VERSION; bump both this script and the wrapper module together."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin" "$WORK/crds"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
START=$SECONDS

# Only the modules the traefik command imports, fetched before the compile so that a refusal
# fails fast.
log "downloading the Go modules traefik imports (GOPROXY=$(go env GOPROXY))"
if ! out="$(cd "$HERE/go/traefik" && go list -deps "$MODULE/cmd/traefik" 2>&1 >/dev/null)"; then
  printf '%s\n' "$out" | tail -n 20 >&2
  die "could not download the Go modules for Traefik $TRAEFIK_VERSION. The Go module proxy (GOPROXY=$(go env GOPROXY)) is unreachable or refused a module."
fi
GATEWAY_API_DIR="$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
for kind in gatewayclasses gateways httproutes grpcroutes referencegrants backendtlspolicies; do
  install -m 0644 "$GATEWAY_API_DIR/config/crd/standard/gateway.networking.k8s.io_$kind.yaml" "$WORK/crds/" \
    || die "the CRD config/crd/standard/gateway.networking.k8s.io_$kind.yaml is missing from sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION."
done
log "modules ready after $((SECONDS - START))s"

# The release's version stamp as its Makefile sets it (`make binary`; the codename is left at
# the Makefile's default), with a fixed build date so that the binary does not vary.
readonly LDFLAGS="-s -w -X $MODULE/pkg/version.Version=$TRAEFIK_VERSION -X $MODULE/pkg/version.BuildDate=1970-01-01T00:00:00Z"
log "building traefik ($MODULE/cmd/traefik@$TRAEFIK_VERSION) ..."
(cd "$HERE/go/traefik" && go build -p 2 -trimpath -ldflags="$LDFLAGS" -o "$WORK/bin/traefik" "$MODULE/cmd/traefik") \
  || die "building traefik failed (see the go output above; the Go module proxy may refuse a dependency)."
[[ -x "$WORK/bin/traefik" ]] || die "traefik is missing from the build output."
# Captured first: grep -q stops reading at its match, and a writer killed by SIGPIPE would fail the
# pipeline (it did, on a loaded machine).
version="$("$WORK/bin/traefik" version 2>&1)" || die "the built traefik does not run (\`traefik version\` says: $version)."
grep -q "^Version:[[:space:]]*$TRAEFIK_VERSION\$" <<<"$version" \
  || die "the built traefik does not report $TRAEFIK_VERSION (\`traefik version\` says: $version)."

printf 'traefik=%s\ngateway-api=%s\nseconds=%s\n' "$TRAEFIK_VERSION" "$GATEWAY_API_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
