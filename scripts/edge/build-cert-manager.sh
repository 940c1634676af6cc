#!/usr/bin/env bash
# Builds cert-manager's controller (github.com/cert-manager/cert-manager) the edge tests run as a
# host process against the test kube-apiserver, and its HTTP-01 solver (the program of the solver
# pods an ACME issuer starts, which the real-node test runs as pods), once, into a cache outside
# the repository keyed by
# version, with the CRDs it serves beside it in crds/ (Certificate, CertificateRequest, Issuer,
# ClusterIssuer, Order, Challenge: the tests install them from there). A later run with the same
# version exits at once.
#
#   scripts/edge/build-cert-manager.sh              build if missing, print the dir
#   scripts/edge/build-cert-manager.sh --print-dir  print the dir, build nothing
#
# Upstream's main is in cmd/controller, a nested module named
# github.com/cert-manager/cert-manager/controller-binary: its path does not match its directory,
# so the Go module proxy serves no version of it (404). The wrapper module in go/cert-manager/
# requires the main module at the release and holds a small main of ours that wires upstream's
# controllers, issuers and metrics server together (Venafi left out; see its main.go), and
# acmesolver/main.go over upstream's solver package (upstream's cmd/acmesolver is a nested module
# too). The webhook and cainjector are not built: the tests install the CRDs without conversion
# webhooks.
# Progress goes to stderr; the only stdout line is the cache directory.
set -euo pipefail

# go/cert-manager/go.mod requires the same version; change both together.
readonly CERT_MANAGER_VERSION=v1.21.2
readonly RECIPE=3
readonly MODULE=github.com/cert-manager/cert-manager

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/edge"
readonly KEY="cert-manager-${CERT_MANAGER_VERSION}_r${RECIPE}"
readonly DEST="$CACHE_ROOT/$KEY"

log() { printf '[cert-manager build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../lib/kubernetes-build.sh
source "$HERE/../lib/kubernetes-build.sh"
exit_if_cached "$DEST" "${1:-}"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (the cert-manager controller is built from source)."
grep -Eq "^(require )?[[:space:]]*$MODULE $CERT_MANAGER_VERSION( // indirect)?\$" "$HERE/go/cert-manager/go.mod" \
  || die "go/cert-manager/go.mod does not require $MODULE $CERT_MANAGER_VERSION; bump both this script and the wrapper module together."
begin_cached_build "$DEST" "$KEY"
mkdir -p "$WORK/bin" "$WORK/crds"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
START=$SECONDS

log "downloading Go modules (GOPROXY=$(go env GOPROXY))"
if ! out="$(cd "$HERE/go/cert-manager" && go mod download 2>&1)"; then
  printf '%s\n' "$out" | tail -n 20 >&2
  die "could not download the Go modules for cert-manager $CERT_MANAGER_VERSION. The Go module proxy (GOPROXY=$(go env GOPROXY)) is unreachable or refused a module."
fi
MODULE_DIR="$(cd "$HERE/go/cert-manager" && go list -m -f '{{.Dir}}' "$MODULE")" || MODULE_DIR=""
[[ -d "$MODULE_DIR" ]] || die "$MODULE@$CERT_MANAGER_VERSION is not in the Go module cache after the download."
# The controller-gen output of the release, plain YAML (the Helm chart's copies of the same specs
# are templated); no conversion webhook is configured in them.
for crd in cert-manager.io_certificates cert-manager.io_certificaterequests cert-manager.io_issuers \
  cert-manager.io_clusterissuers acme.cert-manager.io_orders acme.cert-manager.io_challenges; do
  install -m 0644 "$MODULE_DIR/deploy/crds/$crd.yaml" "$WORK/crds/" \
    || die "the CRD deploy/crds/$crd.yaml is missing from $MODULE@$CERT_MANAGER_VERSION."
done
log "modules ready after $((SECONDS - START))s"

# The release's version stamp as its Makefile sets it (GOLDFLAGS), so the start-up log and
# --version name the release rather than "canary".
readonly LDFLAGS="-s -w -X $MODULE/pkg/util.AppVersion=$CERT_MANAGER_VERSION"
log "building cert-manager-controller ($MODULE@$CERT_MANAGER_VERSION through go/cert-manager) ..."
(cd "$HERE/go/cert-manager" && go build -p 2 -trimpath -ldflags="$LDFLAGS" -o "$WORK/bin/cert-manager-controller" .) \
  || die "building cert-manager-controller failed (see the go output above; the Go module proxy may refuse a dependency)."
[[ -x "$WORK/bin/cert-manager-controller" ]] || die "cert-manager-controller is missing from the build output."
[[ "$("$WORK/bin/cert-manager-controller" --version)" == "$CERT_MANAGER_VERSION" ]] \
  || die "the built controller does not report $CERT_MANAGER_VERSION (the version stamp did not apply)."
log "building acmesolver ..."
(cd "$HERE/go/cert-manager" && go build -p 2 -trimpath -ldflags="-s -w" -o "$WORK/bin/acmesolver" ./acmesolver) \
  || die "building acmesolver failed (see the go output above)."
# Captured first: grep -q stops reading at its match, and a writer killed by SIGPIPE would fail the pipeline.
usage="$("$WORK/bin/acmesolver" --help 2>&1 || true)"
grep -q -- '--listen-port' <<<"$usage" || die "the built acmesolver does not take --listen-port (its usage: $usage)."

printf 'cert-manager=%s\nseconds=%s\n' "$CERT_MANAGER_VERSION" "$((SECONDS - START))" >"$WORK/.complete"
publish_cached_build "$DEST"
log "done in $((SECONDS - START))s: $DEST"
