#!/usr/bin/env bash
# Builds (once) and caches the Python SDK server's virtualenv outside the repository: the `mcp` SDK
# and uvicorn at the versions requirements.txt pins, with --no-deps so nothing floats. Prints the
# venv's directory; the server itself (server.py) runs from the repository with the venv's python.
# Rebuilds only when the venv is missing or was built from another requirements.txt.
#
#   PORTCULLIS_CACHE  cache root (default: ~/.cache/portcullis)
#   PYTHON            the interpreter to build the venv from (default: python3; mcp needs >= 3.10)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
requirements="$here/requirements.txt"
mcp_version=$(sed -n 's/^mcp==//p' "$requirements")
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}
out="$cache/sdk-servers/python-${mcp_version}"

# The copy of requirements.txt inside the venv says what it was built from.
if [ ! -x "$out/bin/python" ] || ! cmp -s "$requirements" "$out/requirements.txt"; then
  echo "sdk-servers: building the Python SDK server's venv (mcp ${mcp_version}; first time only)" >&2
  mkdir -p "$cache/sdk-servers"
  tmp="$out.tmp"
  rm -rf "$tmp"
  "${PYTHON:-python3}" -m venv "$tmp"
  "$tmp/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements" >&2
  cp "$requirements" "$tmp/requirements.txt"
  rm -rf "$out"
  mv "$tmp" "$out"
fi
echo "$out"
