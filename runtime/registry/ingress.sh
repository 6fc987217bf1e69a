# nginx on an ingress node (runtime/ingress.py): it serves the routes set ROOT/wanted names, a directory of
# ROOT that the sync job (ingress-sync.sh) wrote, and says in ROOT/applied which set it serves (or why it refused
# one), once the workers of the previous set have finished their requests (the drain, up to $DRAIN seconds).
set -u
root=/etc/ponton-ingress
conf=/etc/ponton-ingress.conf
mkdir -p "$root/none/http" "$root/none/stream"

answer() {  # what ROOT/applied says, written whole
    printf '%s\n' "$1" > "$root/applied.new" && mv "$root/applied.new" "$root/applied"
}

point() {  # make current/ the set $1, in one rename
    ln -sfn "$1" "$root/current.new" && mv -T "$root/current.new" "$root/current"
}

workers() {  # the workers of the set nginx serves now (not those of an earlier one, still finishing)
    for pid in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        grep -q "shutting down" "/proc/$pid/cmdline" 2>/dev/null || echo "$pid"
    done
}

apply() {
    wanted=$(cat "$root/wanted" 2>/dev/null) || return 0
    [ "$(readlink "$root/current")" = "$wanted" ] && return 0
    previous=$(readlink "$root/current")
    point "$wanted"
    if ! refusal=$(nginx -t -q -c "$conf" 2>&1); then
        point "$previous"
        answer "refused $wanted: $(echo "$refusal" | grep -m1 emerg || echo "$refusal")"
        return 0
    fi
    master=$(cat /run/ponton-ingress.pid)
    old=$(workers "$master")
    nginx -s reload -c "$conf"
    tries=$((${DRAIN:-30} * 50))
    for pid in $old; do
        while [ -d "/proc/$pid" ] && [ "$tries" -gt 0 ]; do
            sleep 0.02
            tries=$((tries - 1))
        done
    done
    answer "$wanted"
    # The set served before goes (not any other: the sync job may be unpacking the next one).
    [ "$previous" = none ] || rm -rf "${root:?}/$previous"
}

# What was wanted last (before this task started) is served from the start, if nginx takes it.
[ -e "$root/current" ] || point none
started="$(readlink "$root/current")"
if wanted=$(cat "$root/wanted" 2>/dev/null); then
    point "$wanted"
    started=$wanted
    if ! refusal=$(nginx -t -q -c "$conf" 2>&1); then
        point none
        started="refused $wanted: $(echo "$refusal" | grep -m1 emerg || echo "$refusal")"
    fi
fi
rm -f /run/ponton-ingress.pid
nginx -c "$conf" -g "daemon off;" &
server=$!
# nginx writes its pid once it listens: only then is the set served.
while [ ! -s /run/ponton-ingress.pid ] && kill -0 "$server" 2>/dev/null; do
    sleep 0.02
done
answer "$started"
# Each new set the sync job names (it renames ROOT/wanted into place), applied in order.
inotifywait -mq -e moved_to --format %f "$root" | while read -r name; do
    [ "$name" = wanted ] && apply
done &
wait "$server"
