#!/usr/bin/env bash
# Builds (once) and caches the Go SDK server outside the repository: main.go and friends against
# the go-sdk version go.mod pins (go.sum committed), from the Go module proxy. Prints the binary's
# path. Rebuilds only when the binary is missing or was built from other sources.
#
#   PORTCULLIS_CACHE  cache root (default: ~/.cache/portcullis)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sdk_version=$(sed -n 's|^require github.com/modelcontextprotocol/go-sdk \(v[^ ]*\)$|\1|p' "$here/go.mod")
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}
out="$cache/sdk-servers/go-${sdk_version}"
bin="$out/sdk-server-go"
export CGO_ENABLED=0 GOTOOLCHAIN=local

# The version names the directory; the digest of the sources says whether the binary is current.
sources=$(cd "$here" && cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1)
if [ ! -x "$bin" ] || [ "$(cat "$out/sources.sha256" 2>/dev/null)" != "$sources" ]; then
  echo "sdk-servers: building the Go SDK server (go-sdk ${sdk_version}; first time only)" >&2
  mkdir -p "$out"
  (cd "$here" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
  echo "$sources" >"$out/sources.sha256"
fi
echo "$bin"
