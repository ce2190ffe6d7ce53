#!/usr/bin/env bash
# Builds the sidecar of an earlier commit (for `make bench-sidecar BASELINE=<rev>`: before and after in
# one run) into the cache and prints the path of its cli/main.js. The commit's own sources, this
# checkout's node_modules (the baseline must share the dependency lock, which the script checks).
set -euo pipefail
rev=${1:?usage: build-baseline.sh <git revision>}
root=$(cd "$(dirname "$0")/../.." && pwd)
sha=$(git -C "$root" rev-parse --verify "$rev^{commit}")
out="${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}/bench-baseline/$sha"
if [ ! -f "$out/dist/cli/main.js" ]; then
  if ! git -C "$root" diff --quiet "$sha" HEAD -- package-lock.json; then
    echo "build-baseline: $rev has another package-lock.json; build it in its own checkout" >&2
    exit 1
  fi
  tmp=$(mktemp -d)
  trap 'git -C "$root" worktree remove --force "$tmp/src" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
  git -C "$root" worktree add --detach "$tmp/src" "$sha" >/dev/null 2>&1
  ln -s "$root/node_modules" "$tmp/src/node_modules"
  (cd "$tmp/src" && npx tsc -p tsconfig.build.json)
  mkdir -p "$out" && rm -rf "$out/dist" && mv "$tmp/src/dist" "$out/dist"
fi
# The build resolves its packages from this checkout's node_modules (same lock, checked above).
ln -sfn "$root/node_modules" "$out/node_modules"
echo "$out/dist/cli/main.js"
