#!/usr/bin/env bash
# Builds ToolHive's `thv` (the Go peer of issue #14's table) from the Go module proxy into the cache, once,
# and prints the binary's path. v0.47.0 is the newest release whose go.mod asks for Go 1.26 (this
# machine's); every later one asks for 1.27. About 4 minutes on two cores, the first time.
set -euo pipefail
version=v0.47.0
out="${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}/peers/toolhive-$version"
if [ ! -x "$out/thv" ]; then
  command -v go >/dev/null || { echo "build-toolhive: needs the go command (Go 1.26 or newer)" >&2; exit 1; }
  mkdir -p "$out"
  GOBIN="$out" GOFLAGS=-mod=mod go install "github.com/stacklok/toolhive/cmd/thv@$version" >&2
fi
echo "$out/thv"
