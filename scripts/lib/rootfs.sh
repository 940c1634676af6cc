# Sourced by the scripts that build root filesystems with mmdebstrap (scripts/images/).

# machine_apt_sources: the machine's own apt source files, one per line, for mmdebstrap's mirror
# arguments (so the image is built from the same Debian mirror the machine reaches).
machine_apt_sources() {
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -s "$file" ]] && echo "$file"
  done
  return 0
}

# publish_rootfs WORK DEST SECONDS KEY=VALUE...: moves WORK/rootfs.tar into the cache directory
# DEST with a .complete stamp written last, so an interrupted build never looks complete.
publish_rootfs() {
  local work="$1" dest="$2" seconds="$3"; shift 3
  mkdir -p "$work/out"
  mv "$work/rootfs.tar" "$work/out/rootfs.tar"
  { printf '%s\n' "$@"; printf 'seconds=%s\n' "$seconds"; } >"$work/out/.complete"
  mv -T "$work/out" "$dest"
}

# STAND_IN_LABEL: the label a stand-in image carries, valued with the cache key of the recipe that
# built it, so an image imported by an older recipe is replaced.
STAND_IN_LABEL=io.nautilus.stand-in

# stand_in_imported REF KEY: whether the local image store has REF, imported by the recipe KEY.
stand_in_imported() {
  [[ "$(podman image inspect --format "{{ index .Labels \"$STAND_IN_LABEL\" }}" "$1" 2>/dev/null)" == "$2" ]]
}
