#!/usr/bin/env bash
# Tears down one real test node from its work directory, whatever state it was left in: used by
# the node's stop(), by the watchdog that outlives a killed test process, and by the sweep of
# nodes a crashed run left behind. Safe to run twice.
#
#   scripts/real-node/cleanup.sh <work dir> [--keep]   (--keep leaves the work directory)
#
# Killing the sandbox's first process (pause, PID 1 of the node's PID namespace) makes the kernel
# kill every process of the node; its mount and network namespaces, with every mount, interface
# and iptables rule in them, go when their last process does. What is left to undo here: the
# kubelet's cgroups and the kernel settings the kubelet changed.
set -u
work="$1"
keep="${2:-}"
[[ -d "$work" ]] || exit 0

is_ours() { # pid, expected executable name
  [[ -n "$1" && -e "/proc/$1" ]] && [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == *"/$2" ]]
}
init="$(cat "$work/init.pid" 2>/dev/null || true)"
unshare_pid="$(cat "$work/unshare.pid" 2>/dev/null || true)"
is_ours "$init" pause && kill -KILL "$init" 2>/dev/null
is_ours "$unshare_pid" unshare && kill -KILL -- "-$unshare_pid" 2>/dev/null
# Components were started with nsenter, each leading its own process group.
if [[ -f "$work/component.pids" ]]; then
  while read -r pid; do is_ours "$pid" nsenter && kill -KILL -- "-$pid" 2>/dev/null; done <"$work/component.pids"
fi
for _ in $(seq 100); do
  [[ -n "$init" && -e "/proc/$init" ]] || break
  sleep 0.1
done

root="/$(basename "$work")"
for hierarchy in /sys/fs/cgroup/*; do
  [[ -d "$hierarchy$root" ]] || continue
  for _ in $(seq 50); do
    find "$hierarchy$root" -depth -type d -exec rmdir {} \; 2>/dev/null
    [[ -d "$hierarchy$root" ]] || break
    sleep 0.1
  done
  [[ -d "$hierarchy$root" ]] && echo "real-node cleanup: could not remove cgroup $hierarchy$root" >&2
done

if [[ -f "$work/sysctls" ]]; then
  while IFS='=' read -r key value; do sysctl -q -w "$key=$value" >/dev/null; done <"$work/sysctls"
  rm -f "$work/sysctls"
fi

# Rules the node added to the machine's own tables (iptables -I <rule>), one per line.
if [[ -f "$work/host-rules" ]]; then
  while read -r -a rule; do
    while iptables -D "${rule[@]}" 2>/dev/null; do :; done
  done <"$work/host-rules"
  rm -f "$work/host-rules"
fi

slot="$(cat "$work/slot" 2>/dev/null || true)"
[[ -n "$slot" ]] && ip link del "nautilus-n$slot" 2>/dev/null
[[ "$keep" == "--keep" ]] || rm -rf "$work"
exit 0
