#!/usr/bin/env bash
# Builds (once) and caches the Java SDK server of the differential fuzzer: io.modelcontextprotocol.sdk
# (pinned in pom.xml) on embedded Tomcat. Prints the directory holding server.jar, its lib/ and a class
# data archive (server.jsa) that shortens JVM start-up. Rebuilds only when that is missing or the sources
# changed (a digest stamp). Maven works on a copy in the cache, so nothing built lands in the repository.
#
#   PORTCULLIS_CACHE  cache root (default: ~/.cache/portcullis)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mcp_version=$(sed -n 's|^ *<mcp.version>\(.*\)</mcp.version>$|\1|p' "$here/pom.xml")
: "${mcp_version:?no mcp.version in pom.xml}"
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}
out="$cache/sdk-servers/java-${mcp_version}"
mkdir -p "$cache/sdk-servers"
# One build at a time: a second one would replace the directory under the first (and its servers).
exec {lock}>"$out.lock"
flock "$lock"

digest=$(cd "$here" && cat pom.xml $(find src -type f | sort) | sha256sum | cut -d' ' -f1)
if [ -f "$out/server.jar" ] && [ "$(cat "$out/sources.sha256" 2>/dev/null)" == "$digest" ]; then
  echo "$out"
  exit 0
fi

echo "sdk-servers/java: building MCP Java SDK ${mcp_version} server (first time: a minute or two)" >&2
work=$(mktemp -d "$cache/sdk-servers/java-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$here/pom.xml" "$here/src" "$work/"
# Maven prints to stdout even with -q; our stdout is only the path we print last.
mvn -q -B -Dstyle.color=never -f "$work/pom.xml" package >&2
mkdir "$work/stage"
mv "$work/target/server.jar" "$work/target/lib" "$work/stage/"
rm -rf "$out"
mv "$work/stage" "$out"

# A dynamic class data archive (AppCDS) from one training run at the final path, since the archive names
# the class path it was made for: start, serve one tools/call, exit on stdin EOF, which writes it. Same
# JVM options as launch.ts, but quieter (the archiver warns of every class it skips). Without the
# archive the JVM still starts, only slower.
coproc TRAINING { exec java -XX:ArchiveClassesAtExit="$out/server.jsa" -XX:TieredStopAtLevel=1 \
  -XX:+UseSerialGC -Xmx256m -Xlog:disable -Xlog:all=error:stderr \
  -jar "$out/server.jar" --port 0 --log "$work/training.log"; }
training_pid=$TRAINING_PID
# Our own copies: bash unsets the coproc's array as soon as the process ends.
exec {from_server}<&"${TRAINING[0]}" {to_server}>&"${TRAINING[1]}"
if read -r -t 60 ready <&"$from_server"; then
  url=${ready#*\"url\":\"}; url=${url%%\"*}
  curl -sS -m 10 -o /dev/null "$url" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"warm"}}}' ||
    echo "sdk-servers/java: the training call failed; the archive covers start-up only" >&2
fi
# Closing every write end of its stdin is what ends the server.
exec {to_server}>&- {from_server}<&-
if [ -n "${TRAINING[1]:-}" ]; then eval "exec ${TRAINING[1]}>&- ${TRAINING[0]}<&-"; fi
for _ in $(seq 60); do kill -0 "$training_pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$training_pid" 2>/dev/null; then kill -KILL "$training_pid"; fi
if ! wait "$training_pid"; then
  echo "sdk-servers/java: the training run failed; no class data archive" >&2
  rm -f "$out/server.jsa"
fi

echo "$digest" >"$out/sources.sha256"
echo "$out"
