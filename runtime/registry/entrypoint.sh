# Starts the registry as its service says (runtime/registry.py), configured by the registry's own REGISTRY_*
# variables: the address it listens on, read-only for the reader, the reader to pass pulls on to for a mirror.
set -eu
exec docker-registry serve /etc/ponton-registry.yml
