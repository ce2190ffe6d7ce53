#!/usr/bin/env bash
# Builds vegeta (a Go HTTP load generator: constant-rate attacks, no garbage-collected stalls of the size
# a Node generator has) from the Go module proxy into the cache, once, and prints the binary's path. For
# `BENCH_LOAD=vegeta make bench-sidecar`: the same open and closed loops, driven by a lean process.
set -euo pipefail
version=v12.13.0
out="${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}/tools/vegeta-$version"
if [ ! -x "$out/vegeta" ]; then
  command -v go >/dev/null || { echo "build-vegeta: needs the go command (Go 1.22 or newer)" >&2; exit 1; }
  mkdir -p "$out"
  GOBIN="$out" GOFLAGS=-mod=mod go install "github.com/tsenart/vegeta/v12@$version" >&2
fi
echo "$out/vegeta"
