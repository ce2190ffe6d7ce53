#!/usr/bin/env bash
# usage: bench/build-go-tool.sh DIR PACKAGE@VERSION BINARY
# Builds a Go command from the Go module proxy into $PORTCULLIS_CACHE/DIR, once, and prints the binary's path.
# What the benchmarks run beside the project (a load generator, a peer proxy); nothing of it is committed.
set -euo pipefail
dir=$1 package=$2 binary=$3
out="${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}/$dir"
if [ ! -x "$out/$binary" ]; then
  command -v go >/dev/null || { echo "build-go-tool: needs the go command to build $package" >&2; exit 1; }
  mkdir -p "$out"
  GOBIN="$out" GOFLAGS=-mod=mod go install "$package" >&2
fi
echo "$out/$binary"
