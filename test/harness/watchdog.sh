#!/usr/bin/env bash
# Runs one server process and ties its life to the Node process that started this script.
#
# Node cannot ask the kernel to kill its children when it dies (there is no PR_SET_PDEATHSIG), but
# the kernel does close a dead process's pipes. The owner holds the write end of our stdin:
#   - a line "stop" asks for a graceful stop: SIGTERM, then SIGKILL after GRACE_SECONDS;
#     SIGTERM, SIGINT or SIGHUP to this script mean the same;
#   - EOF without it means the owner died (exit, crash, SIGKILL): SIGKILL at once. Nobody waits
#     for a clean shutdown then, and etcd and kube-apiserver told to stop together stall each
#     other's graceful shutdown for seconds.
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

stop_requested=""
trap 'stop_requested=1' TERM INT HUP
# The owner may already be gone; a failed write must not kill us before the server is stopped.
trap '' PIPE
echo "$server"

# A poll, not `wait -n`: bash forgets a job once it has reported it dead, so `wait -n` would miss
# a server that died before the call. `read -t` is a builtin, so polling forks nothing. Every 50 ms:
# the owner learns of a server's death (`exited`) no later than that, and a test that SIGKILLs and
# restarts a server a thousand times waits for it each time (at 200 ms the audit loss test spent
# 100 s of its 15 minutes here); one iteration costs tens of microseconds of CPU.
owner_gone=""
while [ -z "$stop_requested" ]; do
  if ! kill -0 "$server" 2>/dev/null; then
    wait "$server" # exited by itself: pass its status on
    exit $?
  fi
  read -r -t 0.05 request
  status=$?
  if [ "$status" -eq 0 ] && [ "$request" = stop ]; then
    stop_requested=1
  elif [ "$status" -ne 0 ] && [ "$status" -le 128 ]; then # EOF; above 128 is a timeout or a signal
    owner_gone=1
    break
  fi
done

if [ -n "$owner_gone" ]; then
  echo "watchdog: the owner is gone; sending SIGKILL to $1 (pid $server)" >&2
  kill -KILL "$server" 2>/dev/null
else
  kill -TERM "$server" 2>/dev/null
  for ((tick = 0; tick < grace * 10; tick++)); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server" 2>/dev/null; then
    echo "watchdog: $1 (pid $server) outlived SIGTERM by ${grace}s; sending SIGKILL" >&2
    kill -KILL "$server" 2>/dev/null
  fi
fi
wait "$server"
