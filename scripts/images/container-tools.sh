# Sourced by the image scripts: points podman and buildah at the project's containers.conf and
# checks that what they need is there, failing with one message that says what is missing and
# how to get it.

CONTAINERS_CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf"
export CONTAINERS_CONF

# require_container_tools TOOL...: root, and every TOOL on PATH.
require_container_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  local problems=()
  [[ "$(id -u)" -eq 0 ]] || problems+=("not running as root: the local image store (/var/lib/containers) and mmdebstrap's root mode need root; run as root (CI runs as root)")
  [[ "${#missing[@]}" -eq 0 ]] || problems+=("missing ${missing[*]}: install with 'bash scripts/install-container-tools.sh' (Debian packages: buildah podman mmdebstrap runc uidmap fuse-overlayfs)")
  if [[ "${#problems[@]}" -gt 0 ]]; then
    printf 'images: cannot build images here:\n' >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
}
