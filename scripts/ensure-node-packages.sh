#!/usr/bin/env bash
# Installs what `make cluster-up` runs from Debian's packages when it is missing: containerd and runc
# (the container runtime), containernetworking-plugins (bridge, host-local, loopback, portmap under
# /usr/lib/cni), busybox-static (the one shell the local volume provisioner's helper pods get),
# iptables, iproute2 and ipset (kube-router's NetworkPolicy firewall keeps its pod sets there). Idempotent and quiet: with everything installed it does nothing.
set -euo pipefail

declare -A wanted=(
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [busybox-static]=/bin/busybox
  [iptables]=/usr/sbin/iptables-restore
  [iproute2]=/usr/sbin/ip
  [ipset]=/usr/sbin/ipset
)
packages=()
for package in "${!wanted[@]}"; do
  [ -x "${wanted[$package]}" ] || packages+=("$package")
done
[ ${#packages[@]} -eq 0 ] && exit 0

[ "$(id -u)" -eq 0 ] || { echo "ensure-node-packages: ${packages[*]} missing and not root" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 || { echo "ensure-node-packages: ${packages[*]} missing and no apt-get" >&2; exit 1; }
echo "ensure-node-packages: installing ${packages[*]} (apt-get install)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The package's own service would start a second containerd on the default socket: policy-rc.d keeps
# dpkg from starting services (cluster-up runs its own containerd with its own state and socket).
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=true; fi
trap 'rm -f "$log"; if $created_policy; then rm -f "$policy"; fi' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-node-packages: apt-get failed" >&2
  exit 1
fi
for package in "${!wanted[@]}"; do
  [ -x "${wanted[$package]}" ] || { echo "ensure-node-packages: installed but found no ${wanted[$package]}" >&2; exit 1; }
done
