#!/usr/bin/env bash
# Builds the local stand-in for the engine Dockerfiles' base image, node:20.20.2-bookworm-slim, and
# imports it into the local image store (containers-storage, shared by buildah and podman) under
# that exact name, so `FROM node:20.20.2-bookworm-slim` resolves without a registry.
#
#   scripts/images/base-image.sh              build (or reuse the cache) and import if missing
#   scripts/images/base-image.sh --print-ref  print the image name, build nothing
#
# No container registry is reachable from the machines this project is developed and tested on,
# so the official image cannot be pulled. The stand-in is made of the same parts from registries
# that are reachable:
#   - Debian bookworm, minbase variant, from Debian's packages (mmdebstrap, the machine's own apt
#     sources);
#   - the exact Node release, from the npm registry's node-linux-<arch> package (it carries the
#     release's bin/node, include/ and share/, laid out in /usr/local as the official image does);
#   - npm, from the npm registry (the official image has the npm bundled with the Node release);
#   - a `node` user and group, uid and gid 1000, home /home/node, as in the official image.
# What differs from the official image: no yarn, no corepack, no docker-entrypoint.sh (the engine
# images set their own ENTRYPOINT), a Debian package set of the day it was built rather than of the
# official image's build, and no digest of Docker Hub's.
#
# The root filesystem is cached outside the repository by version and architecture:
#   ${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/base-images/<key>/rootfs.tar
# A later run imports it from there (seconds) instead of building it again (about a minute).
# Progress goes to stderr; the only stdout line is the image name.
set -euo pipefail

readonly NODE_VERSION=20.20.2
readonly NPM_VERSION=10.8.2
readonly SUITE=bookworm
readonly IMAGE_REF="docker.io/library/node:${NODE_VERSION}-${SUITE}-slim"
# Bump when the recipe below changes, so a cache built by an older recipe is not reused.
readonly RECIPE=1

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[base image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${1:-}" == "--print-ref" ]]; then
  echo "$IMAGE_REF"
  exit 0
fi

# shellcheck source=container-tools.sh
source "$HERE/container-tools.sh"
# shellcheck source=../lib/rootfs.sh
source "$HERE/../lib/rootfs.sh"
require_container_tools podman mmdebstrap

case "$(dpkg --print-architecture)" in
  amd64) NODE_ARCH=x64 ;;
  arm64) NODE_ARCH=arm64 ;;
  *) die "no node-linux package for architecture $(dpkg --print-architecture); the stand-in is built for amd64 and arm64 only." ;;
esac
readonly KEY="node-${NODE_VERSION}-npm-${NPM_VERSION}-${SUITE}-slim-$(dpkg --print-architecture)-r${RECIPE}"
readonly CACHE_ROOT="${NAUTILUS_CACHE_DIR:-$HOME/.cache/nautilus-k8s}/base-images"
readonly DEST="$CACHE_ROOT/$KEY"

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9
if stand_in_imported "$IMAGE_REF" "$KEY"; then
  echo "$IMAGE_REF"
  exit 0
fi

if [[ ! -f "$DEST/.complete" ]]; then
  start=$SECONDS
  rm -rf "$DEST"
  work="$(mktemp -d "$CACHE_ROOT/.tmp-$KEY.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "fetching node-linux-${NODE_ARCH}@${NODE_VERSION} and npm@${NPM_VERSION} from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-${NODE_ARCH}@${NODE_VERSION}" "npm@${NPM_VERSION}" >/dev/null) \
    || die "npm pack node-linux-${NODE_ARCH}@${NODE_VERSION} npm@${NPM_VERSION} failed: the npm registry is unreachable or lacks that version."
  mkdir -p "$work/node" "$work/npm"
  tar -xzf "$work/node-linux-${NODE_ARCH}-${NODE_VERSION}.tgz" -C "$work/node" --strip-components=1
  tar -xzf "$work/npm-${NPM_VERSION}.tgz" -C "$work/npm" --strip-components=1
  [[ -x "$work/node/bin/node" ]] || die "node-linux-${NODE_ARCH}@${NODE_VERSION} has no bin/node."

  log "building Debian ${SUITE} (minbase) with mmdebstrap from the machine's apt sources"
  mapfile -t sources < <(machine_apt_sources)
  # Node lands in /usr/local as in the official image; npm is the package's files with the two
  # links the official image has; the node user is uid/gid 1000. Apt lists and docs are removed
  # as a slim image does.
  # shellcheck disable=SC2016 # the hooks are evaluated by mmdebstrap, with $1 the root.
  SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=minbase --mode=root \
    --customize-hook="cp -a '$work/node/bin/node' \"\$1/usr/local/bin/node\"" \
    --customize-hook="cp -a '$work/node/include' '$work/node/share' \"\$1/usr/local/\"" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\" && cp -a '$work/npm' \"\$1/usr/local/lib/node_modules/npm\"" \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
    --customize-hook='chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
    "$SUITE" "$work/rootfs.tar" "${sources[@]}" >&2 \
    || die "mmdebstrap could not build Debian ${SUITE}; see its output above (are the machine's apt sources reachable?)."
  publish_rootfs "$work" "$DEST" "$((SECONDS - start))" "node=$NODE_VERSION" "npm=$NPM_VERSION" "suite=$SUITE"
  rm -rf "$work"
  trap - EXIT
  log "root filesystem built in $((SECONDS - start))s: $DEST/rootfs.tar"
fi

log "importing $IMAGE_REF into the local image store"
podman import --quiet \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=${NODE_VERSION}" \
  --change "LABEL $STAND_IN_LABEL=$KEY" \
  --change 'CMD ["node"]' \
  "$DEST/rootfs.tar" "$IMAGE_REF" >/dev/null \
  || die "podman import of $DEST/rootfs.tar failed; see its output above."

version="$(podman run --rm --network=none "$IMAGE_REF" node --version 2>&1)" \
  || die "the imported image does not run node: $version"
[[ "$version" == "v${NODE_VERSION}" ]] || die "node --version in $IMAGE_REF printed '$version', expected v${NODE_VERSION}."
user="$(podman run --rm --network=none "$IMAGE_REF" id -u node 2>&1)"
[[ "$user" == "1000" ]] || die "the node user in $IMAGE_REF has uid '$user', expected 1000."
log "imported $IMAGE_REF (node $version, node user uid $user)"
echo "$IMAGE_REF"
