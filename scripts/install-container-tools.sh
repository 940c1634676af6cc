#!/usr/bin/env bash
# Installs, from Debian's packages, what the project needs to build images and to run a real
# test node: buildah and podman (image builds, the local image store), mmdebstrap (the stand-in
# base image), containerd, runc and the CNI plugins (the node's runtime and pod network),
# iptables and conntrack (kube-proxy), uidmap and fuse-overlayfs (what buildah and podman expect
# beside them). Idempotent and quiet: does nothing when everything is there, so `npm test` runs
# it every time.
#
#   bash scripts/install-container-tools.sh
set -euo pipefail

# command, or a file the package installs, per package
declare -A probe=(
  [buildah]=buildah [podman]=podman [mmdebstrap]=mmdebstrap [runc]=runc [containerd]=containerd
  [containernetworking-plugins]=/usr/lib/cni/bridge [iptables]=iptables [conntrack]=conntrack
  [uidmap]=newuidmap [fuse-overlayfs]=fuse-overlayfs
)
packages=()
for package in "${!probe[@]}"; do
  what="${probe[$package]}"
  if [[ "$what" == /* ]]; then [[ -x "$what" ]] || packages+=("$package")
  else command -v "$what" >/dev/null 2>&1 || packages+=("$package"); fi
done
[[ "${#packages[@]}" -eq 0 ]] && exit 0

sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo -n); else
    echo "install-container-tools: need root (or sudo) to install: ${packages[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-container-tools: installing ${packages[*]}" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { "${sudo_cmd[@]}" apt-get update -qq && \
       "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-container-tools: apt-get install ${packages[*]} failed (output above)" >&2
  exit 1
fi
# The packages start their services where systemd runs; the tests start their own containerd.
