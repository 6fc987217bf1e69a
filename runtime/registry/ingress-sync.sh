# The job that hands a node's ingress (ingress.sh) a new set of routes (runtime/ingress.py): unpack the set
# ($1, its name) from the Swarm secret it came in, name it in ROOT/wanted, and wait for ROOT/applied to say the
# set is served (exit 0) or refused (exit 1, with nginx's reason), for up to $WAIT seconds.
set -eu
root=/etc/ponton-ingress
set_name=$1
if [ ! -d "$root/$set_name" ]; then
    rm -rf "$root/$set_name.new"
    mkdir -p "$root/$set_name.new/http" "$root/$set_name.new/stream"
    tar -xzf /run/secrets/ponton-ingress-routes -C "$root/$set_name.new"
    mv "$root/$set_name.new" "$root/$set_name"
fi
want() {
    printf '%s\n' "$set_name" > "$root/wanted.new" && mv "$root/wanted.new" "$root/wanted"
}

want
tries=$((${WAIT:-60} * 20))
while [ "$tries" -gt 0 ]; do
    answer=$(cat "$root/applied" 2>/dev/null || true)
    case "$answer" in
        "$set_name") exit 0 ;;
        "refused $set_name:"*) echo "$answer" >&2; exit 1 ;;
    esac
    # Named again every two seconds: nginx's task may have started watching only after the first time.
    [ $((tries % 40)) -ne 0 ] || want
    sleep 0.05
    tries=$((tries - 1))
done
echo "nginx on this node did not take routes $set_name within ${WAIT:-60} s" >&2
exit 1
