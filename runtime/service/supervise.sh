#!/usr/bin/env bash
# Keeps a command running where systemd is not PID 1 (containers, CI): install.sh runs the watchdog under it,
# as the ponton user. When the command exits it is started again after a delay that doubles after each quick
# exit (1 s, 2 s, 4 s ... 60 s) and resets once a run lasted a minute, as systemd's Restart=always with a
# backoff would. SIGTERM or SIGINT stops the command, then the supervisor.
#   supervise.sh COMMAND [ARGS...]
set -uo pipefail

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') supervise: $*"; }

child=
stop() {
    log "stopping"
    if [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; then wait "$child"; fi
    exit 0
}
trap stop TERM INT

delay=1
while true; do
    started=$SECONDS
    log "starting $*"
    "$@" &
    child=$!
    wait "$child"
    code=$?
    child=
    if (( SECONDS - started >= 60 )); then delay=1; fi
    log "$1 exited with status $code; starting it again in ${delay}s"
    sleep "$delay" &  # in the background, so that a SIGTERM is handled at once
    child=$!
    wait "$child"
    delay=$(( delay * 2 > 60 ? 60 : delay * 2 ))
done
