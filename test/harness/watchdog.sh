#!/usr/bin/env bash
# Runs one server process and ties its life to the Node process that started this script.
#
# Node cannot ask the kernel to kill its children when it dies (there is no PR_SET_PDEATHSIG), but
# the kernel does close a dead process's pipes. The owner holds the write end of our stdin, so EOF
# on stdin means "the owner is gone or asks us to stop", whether it exited, crashed or was SIGKILLed.
# SIGTERM, SIGINT and SIGHUP mean the same.
#
# usage: watchdog.sh GRACE_SECONDS COMMAND [ARGS...]
#   stdout  the server's PID on one line, then nothing
#   stderr  the server's stdout and stderr, and the watchdog's own notes
#   exit    the server's exit status
set -uo pipefail
grace=$1
shift

# Started before any trap below, so the server inherits default signal dispositions.
"$@" </dev/null >&2 &
server=$!
# A background job reads /dev/null unless told otherwise, hence the explicit <&0.
cat <&0 >/dev/null &
owner_pipe=$!

stop_requested=""
trap 'stop_requested=1' TERM INT HUP
# The owner may already be gone; a failed write must not kill us before the server is stopped.
trap '' PIPE
echo "$server"

first=""
wait -n -p first "$server" "$owner_pipe"
status=$?

if [ -z "$stop_requested" ] && [ "$first" = "$server" ]; then
  # The server exited by itself; the owner sees our exit and reads the log.
  kill "$owner_pipe" 2>/dev/null
  exit "$status"
fi

kill -TERM "$server" 2>/dev/null
sleep "$grace" &
timer=$!
first=""
while [ "$first" != "$server" ] && [ "$first" != "$timer" ]; do
  first=""
  wait -n -p first "$server" "$timer"
done
if [ "$first" = "$timer" ]; then
  echo "watchdog: $1 (pid $server) ignored SIGTERM for ${grace}s; sending SIGKILL" >&2
  kill -KILL "$server" 2>/dev/null
fi
kill "$timer" "$owner_pipe" 2>/dev/null
wait "$server"
