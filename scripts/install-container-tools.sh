#!/usr/bin/env bash
# Installs, from Debian's packages, what the project needs to build images and to run a real
# test node: buildah and podman (image builds, the local image store), mmdebstrap (the stand-in
# base image), containerd, runc and the CNI plugins (the node's runtime and pod network),
# iptables and conntrack (kube-proxy), ipset (the NetworkPolicy enforcer), uidmap and fuse-overlayfs (what buildah and podman expect
# beside them). Idempotent and quiet: does nothing when everything is there, so `npm test` runs
# it every time.
#
#   bash scripts/install-container-tools.sh
set -euo pipefail

# command, or a file the package installs, per package
declare -A probe=(
  [buildah]=buildah [podman]=podman [mmdebstrap]=mmdebstrap [runc]=runc [containerd]=containerd
  [containernetworking-plugins]=/usr/lib/cni/bridge [iptables]=iptables [conntrack]=conntrack
  [uidmap]=newuidmap [fuse-overlayfs]=fuse-overlayfs [ipset]=ipset
)
packages=()
for package in "${!probe[@]}"; do
  what="${probe[$package]}"
  if [[ "$what" == /* ]]; then [[ -x "$what" ]] || packages+=("$package")
  else command -v "$what" >/dev/null 2>&1 || packages+=("$package"); fi
done
[[ "${#packages[@]}" -eq 0 ]] && exit 0

# The packages start their services where systemd runs; the tests start their own containerd.
# shellcheck source=lib/apt-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
apt_install install-container-tools "${packages[@]}"
