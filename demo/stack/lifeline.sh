#!/usr/bin/env bash
# Runs one process of the demo stack and ties its life to the Node process that started this script.
# Node cannot ask the kernel to kill its children when it dies, but the kernel closes a dead process's
# pipes: the owner holds the write end of our stdin, and EOF (the owner closed it to stop us, or died)
# means stop: SIGTERM, then SIGKILL after GRACE_SECONDS.
#
# usage: lifeline.sh GRACE_SECONDS COMMAND [ARGS...]   exit: the process's exit status
set -uo pipefail
grace=$1
shift

"$@" </dev/null &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP

while kill -0 "$child" 2>/dev/null; do
  read -r -t 0.2 _
  status=$?
  if [ "$status" -ne 0 ] && [ "$status" -le 128 ]; then # EOF; above 128 is a timeout or a signal
    kill -TERM "$child" 2>/dev/null
    for ((tick = 0; tick < grace * 10; tick++)); do
      kill -0 "$child" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$child" 2>/dev/null
    break
  fi
done
wait "$child"
