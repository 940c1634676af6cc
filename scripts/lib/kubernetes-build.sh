# Sourced by the scripts that build Go binaries into a cache keyed by version
# (scripts/control-plane/build.sh, scripts/real-node/build.sh, scripts/real-node/build-network-policy.sh).
# Each caches in DEST, written as a temporary sibling WORK and renamed into place with its
# `.complete` stamp last, so an interrupted build never looks done. The script defines log().

# k8s_ldflags VERSION: the linker flags that stamp a release into a binary, so that /version,
# `kubectl version` and `kubelet --version` report the release rather than v0.0.0.
k8s_ldflags() {
  local version="$1" minor x=""
  minor="$(echo "$version" | cut -d. -f2)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    x+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "-s -w$x"
}

# lock_cache LOCKFILE WHAT: holds an exclusive lock on LOCKFILE (file descriptor 9) for the rest of
# the script, so that parallel test workers build a cache once; the others wait, then reuse it.
# The holder's pid is kept in LOCKFILE.holder: a waiter running at a higher priority than the
# holder raises the holder's (a build npm test started in the background at the lowest priority
# is on a test's critical path once that test waits for it).
lock_cache() {
  exec 9>"$1"
  if ! flock -n 9; then
    log "another build of $2 is running; waiting for it to finish"
    raise_holder_priority "$1.holder"
    flock 9
  fi
  echo "$$" >"$1.holder"
}

# raise_holder_priority HOLDERFILE: gives the lock holder named there, and every process below it
# (the compilers it runs), this script's niceness when that is lower (a higher priority) than its
# own; never lowers a priority. Best effort: a holder that is gone, or a renice refused, is skipped.
raise_holder_priority() {
  local holder holder_nice ours pids i=0
  holder="$(cat "$1" 2>/dev/null || true)"
  # Only a build script: the file may outlive its holder, and its pid be reused.
  [[ "$holder" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null | grep -q 'bash.*build' || return 0
  holder_nice="$(ps -o ni= -p "$holder" 2>/dev/null | tr -d ' ')"
  ours="$(nice)"
  [[ "$holder_nice" =~ ^-?[0-9]+$ ]] && (( ours < holder_nice )) || return 0
  pids=("$holder")
  while (( i < ${#pids[@]} )); do
    # shellcheck disable=SC2207
    pids+=($(pgrep -P "${pids[i]}" || true))
    i=$((i + 1))
  done
  if renice -n "$ours" -p "${pids[@]}" >/dev/null 2>&1; then
    log "raised the running build (pid $holder, ${#pids[@]} processes) from niceness $holder_nice to $ours"
  fi
}

# exit_if_cached DEST [--print-dir]: prints DEST and exits when only the directory is asked for,
# or when the build there is complete.
exit_if_cached() {
  if [[ "${2:-}" == "--print-dir" || -f "$1/.complete" ]]; then
    echo "$1"
    exit 0
  fi
}

# begin_cached_build DEST KEY: waits for any other build of the same cache (parallel test workers
# or two terminals may all find it missing), exits if that one completed DEST, and otherwise sets
# WORK to a fresh temporary sibling of DEST, removed on exit unless publish_cached_build ran.
begin_cached_build() {
  local dest="$1" key="$2" root
  root="$(dirname "$dest")"
  mkdir -p "$root"
  lock_cache "$root/.build.lock" "$key"
  exit_if_cached "$dest"
  # A directory without a stamp can only be left over from a manual edit.
  rm -rf "$dest"
  WORK="$(mktemp -d "$root/.tmp-$key.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
}

# publish_cached_build DEST: renames WORK (with its .complete stamp written) into place and
# prints DEST, the scripts' only line on stdout.
publish_cached_build() {
  chmod 0755 "$WORK"
  mv -T "$WORK" "$1"
  trap - EXIT
  echo "$1"
}

# module_dir MODULE@VERSION: downloads one module into the Go module cache (from WORK, so no
# go.mod around it counts) and prints its read-only directory there; dies with the proxy's address
# when the module cannot be had.
module_dir() {
  local dir
  if ! dir="$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "$1" 2>&1 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || [[ -z "$dir" ]]; then
    die "could not download $1. The Go module proxy (GOPROXY=$(go env GOPROXY)) is unreachable or refused the module."
  fi
  echo "$dir"
}
