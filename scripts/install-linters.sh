#!/usr/bin/env bash
# Installs the manifest linters the lint test (test/lint) runs on every environment of dist/,
# once, into a cache outside the repository keyed by version. A later run with the same
# versions exits at once.
#
#   bash scripts/install-linters.sh              install what is missing, print the cache root
#   bash scripts/install-linters.sh --print-dir  print the cache root, install nothing
#
# kubeconform and kube-score build from the Go module proxy (`go install`); checkov and
# kubernetes-validate (which ships the Kubernetes JSON schemas kubeconform validates against,
# so no schema is fetched at test time) go into one Python venv from PyPI. Each tool is built in
# a temporary sibling directory and renamed into place once complete, so an interrupted install
# never looks complete. Cache root: ${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}.
set -euo pipefail

readonly KUBECONFORM_VERSION=v0.7.0
readonly KUBE_SCORE_VERSION=v1.20.0
readonly CHECKOV_VERSION=3.3.30
readonly KUBERNETES_VALIDATE_VERSION=1.37.0

readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}"
readonly KUBECONFORM_DIR="$CACHE_ROOT/kubeconform-$KUBECONFORM_VERSION"
readonly KUBE_SCORE_DIR="$CACHE_ROOT/kube-score-$KUBE_SCORE_VERSION"
readonly PYTHON_DIR="$CACHE_ROOT/checkov-${CHECKOV_VERSION}_kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"

log() { printf '[install-linters %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${1:-}" == "--print-dir" ]]; then
  printf 'kubeconform=%s\nkube-score=%s\npython=%s\n' "$KUBECONFORM_DIR" "$KUBE_SCORE_DIR" "$PYTHON_DIR"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
# Parallel test workers may all find the cache missing: the first installs, the others wait.
exec 9>"$CACHE_ROOT/.linters.lock"
flock 9

go_tool() { # dest module version binary
  local dest="$1" module="$2" version="$3" binary="$4"
  [[ -f "$dest/.complete" ]] && return 0
  command -v go >/dev/null || die "go is not on PATH; install Go >= 1.22 ($binary is built from source)"
  local started=$SECONDS tmp="$dest.partial"
  rm -rf "$tmp" && mkdir -p "$tmp/bin"
  log "building $binary $version from the Go module proxy"
  GOTOOLCHAIN=local GOBIN="$tmp/bin" CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' "$module@$version"
  [[ -x "$tmp/bin/$binary" ]] || die "$binary missing after go install"
  touch "$tmp/.complete"
  rm -rf "$dest" && mv "$tmp" "$dest"
  log "$binary $version ready in $((SECONDS - started)) s"
}

python_tools() {
  [[ -f "$PYTHON_DIR/.complete" ]] && return 0
  command -v python3 >/dev/null || die "python3 is not on PATH (checkov runs in a venv)"
  local started=$SECONDS
  # A venv's scripts name its own path, so it is built where it lives; without the stamp a
  # leftover directory is an interrupted install and starts over.
  rm -rf "$PYTHON_DIR"
  log "installing checkov $CHECKOV_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI"
  python3 -m venv "$PYTHON_DIR"
  "$PYTHON_DIR/bin/pip" install --quiet --disable-pip-version-check --no-input \
    "checkov==$CHECKOV_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  touch "$PYTHON_DIR/.complete"
  log "python linters ready in $((SECONDS - started)) s"
}

go_tool "$KUBECONFORM_DIR" github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" kubeconform
go_tool "$KUBE_SCORE_DIR" github.com/zegl/kube-score/cmd/kube-score "$KUBE_SCORE_VERSION" kube-score
python_tools
printf 'kubeconform=%s\nkube-score=%s\npython=%s\n' "$KUBECONFORM_DIR" "$KUBE_SCORE_DIR" "$PYTHON_DIR"
