#!/usr/bin/env bash
# Builds vegeta (a Go HTTP load generator: constant-rate attacks, no garbage-collected stalls of the size
# a Node generator has) from the Go module proxy into the cache, once, and prints the binary's path. For
# `BENCH_LOAD=vegeta make bench-sidecar`: the same open and closed loops, driven by a lean process.
set -euo pipefail
version=v12.13.0
exec "$(dirname "$0")/../build-go-tool.sh" "tools/vegeta-$version" "github.com/tsenart/vegeta/v12@$version" vegeta
