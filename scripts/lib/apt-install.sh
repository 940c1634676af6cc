# Sourced by the install scripts: apt_install NAME PACKAGE... installs the packages from Debian,
# quietly (apt's output is shown only when it fails), as root or through sudo. NAME prefixes the
# messages. --no-install-recommends keeps it to what was asked for.
apt_install() {
  local name="$1"; shift
  local sudo_cmd=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo -n); else
      echo "$name: need root (or sudo) to install: $*" >&2
      return 1
    fi
  fi
  echo "$name: installing $*" >&2
  local log
  log="$(mktemp)"
  if ! { "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
         "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "$name: apt-get failed installing $*" >&2
    return 1
  fi
  rm -f "$log"
}
