#!/usr/bin/env bash
# Puts the real test node's own images in the local image store (containers-storage), built FROM
# scratch around the static binaries scripts/real-node/build.sh made: the pod sandbox's pause and
# CoreDNS. No registry is reachable here, so registry.k8s.io's images cannot be pulled; these hold
# the same programs, built from the same sources, under local names.
#
#   scripts/real-node/node-images.sh <binaries dir>   prints "<pause ref> <coredns ref>"
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../images/container-tools.sh
source "$HERE/../images/container-tools.sh"
require_container_tools buildah podman

bin="$1"
k8s="$(sed -n 's/^k8s=//p' "$bin/../.complete")"
coredns="$(sed -n 's/^coredns=//p' "$bin/../.complete")"
pause_ref="localhost/nautilus/pause:$k8s"
coredns_ref="localhost/nautilus/coredns:$coredns"

image() {
  local ref="$1" binary="$2"; shift 2
  if podman image exists "$ref"; then return; fi
  local container
  container="$(buildah from scratch)"
  buildah copy --quiet "$container" "$bin/$binary" "/$binary" >/dev/null
  buildah config --entrypoint "[\"/$binary\"]" "$@" "$container"
  buildah commit --quiet --rm "$container" "$ref" >/dev/null
  echo "[node images] built $ref" >&2
}
image "$pause_ref" pause --user 65535:65535
image "$coredns_ref" coredns --port 53/udp --port 53/tcp
echo "$pause_ref $coredns_ref"
