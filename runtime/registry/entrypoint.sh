# Starts the registry as its service says (runtime/registry.py), configured by the registry's own REGISTRY_*
# variables: the address it listens on, read-only for the reader, the reader to pass pulls on to for a mirror.
# The reader lets in only who knows the cluster's registry password (a Swarm secret, on the nodes that run a
# registry task), and the mirrors pass it on: an app's instance on the cluster's network can reach the reader, and
# must not read another app's image.
set -eu
secret=/run/secrets/ponton-registry-password
if [ -n "${REGISTRY_AUTH_HTPASSWD_PATH:-}" ]; then
    htpasswd -c -i -B "$REGISTRY_AUTH_HTPASSWD_PATH" ponton < "$secret"
fi
if [ -n "${REGISTRY_PROXY_REMOTEURL:-}" ]; then
    # In the URL: the registry's proxy.username/password are only sent to a token server, never as basic auth (the
    # mirror's own log shows the URL: readable by whoever runs the engine, as the secret is).
    REGISTRY_PROXY_REMOTEURL="http://ponton:$(cat "$secret")@${REGISTRY_PROXY_REMOTEURL#http://}"
    export REGISTRY_PROXY_REMOTEURL
fi
exec docker-registry serve /etc/ponton-registry.yml
