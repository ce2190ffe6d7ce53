#!/usr/bin/env bash
# Installs what the egress-lock integration test needs from Debian's packages when it is missing:
# `iptables` (the real `portcullis egress-lock` pipes its rules into iptables-restore/ip6tables-restore,
# nft and legacy backends both) and `iproute2` (the test wires its network namespaces with `ip`).
# Idempotent and quiet: with everything installed it does nothing. It only installs; it never touches a
# network namespace's rules.
set -euo pipefail

packages=()
for tool in iptables-restore ip6tables-restore iptables-legacy-restore iptables-nft-restore; do
  command -v "$tool" >/dev/null 2>&1 || { packages+=(iptables); break; }
done
command -v ip >/dev/null 2>&1 || packages+=(iproute2)
[ ${#packages[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null 2>&1 || {
  echo "ensure-iptables: ${packages[*]} missing and no apt-get to install them" >&2
  exit 1
}
if [ "$(id -u)" -ne 0 ]; then
  # The test needs root for network namespaces and skips without it: nothing to install for it.
  echo "ensure-iptables: ${packages[*]} missing; not root, so the egress-lock test will skip" >&2
  exit 0
fi
echo "ensure-iptables: installing ${packages[*]} (apt-get install)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-iptables: apt-get failed" >&2
  exit 1
fi
for tool in iptables-restore ip6tables-restore ip; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ensure-iptables: installed ${packages[*]} but found no $tool" >&2; exit 1; }
done
