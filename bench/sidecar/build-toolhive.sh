#!/usr/bin/env bash
# Builds ToolHive's `thv` (the Go peer of issue #14's table) from the Go module proxy into the cache, once,
# and prints the binary's path. v0.47.0 is the newest release whose go.mod asks for Go 1.26 (this
# machine's); every later one asks for 1.27. About 4 minutes on two cores, the first time.
set -euo pipefail
version=v0.47.0
exec "$(dirname "$0")/../build-go-tool.sh" "peers/toolhive-$version" "github.com/stacklok/toolhive/cmd/thv@$version" thv
