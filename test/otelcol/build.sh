#!/usr/bin/env bash
# Builds (once) and caches the OpenTelemetry Collector the audit export tests run against: core
# otlpreceiver + otlphttpexporter only (main.go), from the Go module proxy. Prints the binary's path.
# Rebuilds only when the binary is missing. Nothing binary is committed.
#
#   PORTCULLIS_CACHE  cache root (default: ~/.cache/portcullis)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}
out="$cache/otelcol/${OTELCOL_VERSION}"
bin="$out/otelcol-portcullis"
mkdir -p "$out"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

if [ ! -x "$bin" ]; then
  echo "otelcol: building otelcol-portcullis ${OTELCOL_VERSION} (first time only; a few minutes on 2 cores)" >&2
  (cd "$here" && go build -trimpath -ldflags "-s -w -X main.version=${OTELCOL_VERSION}" -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
