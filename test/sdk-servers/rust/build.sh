#!/usr/bin/env bash
# Builds (once) and caches the Rust SDK server of the differential fuzzer: rmcp (pinned in Cargo.lock)
# serving stateless Streamable HTTP. Prints the binary's path. Rebuilds only when the binary is missing
# or its sources changed (a digest stamp), with the cargo target directory kept in the cache so a
# rebuild is incremental. Nothing built lands in the repository.
#
#   PORTCULLIS_CACHE  cache root (default: ~/.cache/portcullis)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rmcp_version=$(sed -n 's|^rmcp = { version = "=\([^"]*\)".*|\1|p' "$here/Cargo.toml")
: "${rmcp_version:?no rmcp version in Cargo.toml}"
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}
out="$cache/sdk-servers/rust-${rmcp_version}"
bin="$out/mcp-fuzz-server"
mkdir -p "$out"
# One build at a time (cargo locks its target directory, but not our stamp and copy).
exec {lock}>"$out.lock"
flock "$lock"

# The stamp names the sources the binary was built from, so an edited server is never served stale.
digest=$(cd "$here" && cat Cargo.toml Cargo.lock src/*.rs | sha256sum | cut -d' ' -f1)
if [ ! -x "$bin" ] || [ "$(cat "$out/sources.sha256" 2>/dev/null)" != "$digest" ]; then
  echo "sdk-servers/rust: building rmcp ${rmcp_version} server (first time: a few minutes on 2 cores)" >&2
  (cd "$here" && CARGO_TARGET_DIR="$out/target" cargo build --release --locked --quiet)
  cp "$out/target/release/mcp-fuzz-server" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  echo "$digest" >"$out/sources.sha256"
fi
echo "$bin"
