# Sourced by the build scripts of Kubernetes binaries (scripts/control-plane/build.sh,
# scripts/real-node/build.sh).

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
lock_cache() {
  exec 9>"$1"
  if ! flock -n 9; then
    log "another build of $2 is running; waiting for it to finish"
    flock 9
  fi
}
