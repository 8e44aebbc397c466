#!/bin/bash
# The image's entry point (under tini): starts Switchyard, waits for its first
# config, then HAProxy in master-worker mode beside it, reloaded by Switchyard
# through the master CLI. Stops both on SIGTERM/SIGINT; exits when either
# dies, so the orchestrator restarts the pair.
set -u
home=${SIDECAR_HOME:-/opt/switchyard}
run=${HAPROXY_RUN_DIR:-/run/haproxy}
cfg="$run/haproxy.cfg"
export SWITCHYARD_CONFIG=${SWITCHYARD_CONFIG:-$home/config/switchyard.json}

node "$home/bin/switchyard.js" serve --config "$SWITCHYARD_CONFIG" &
switchyard=$!
haproxy=""
stop() {
  kill -TERM "$switchyard" 2>/dev/null
  [ -n "$haproxy" ] && kill -USR1 "$haproxy" 2>/dev/null
  wait
  exit 0
}
trap stop TERM INT

# HAProxy starts from Switchyard's first complete render, never from nothing.
until [ -s "$cfg" ]; do
  kill -0 "$switchyard" 2>/dev/null || { echo "sidecar: switchyard exited before its first config" >&2; wait "$switchyard"; exit 1; }
  sleep 0.1
done
haproxy -W -S "$run/master.sock" -f "$cfg" &
haproxy=$!

wait -n "$switchyard" "$haproxy"
status=$?
echo "sidecar: $( kill -0 "$switchyard" 2>/dev/null && echo haproxy || echo switchyard ) exited ($status); stopping" >&2
kill -TERM "$switchyard" 2>/dev/null
kill -USR1 "$haproxy" 2>/dev/null
wait
exit "$status"
