#!/usr/bin/env bash
# Build ponton's base image from a Debian mirror with debootstrap: no image registry needed (air-gapped
# servers, and networks where none is reachable). Skips the work if the image already exists.
#   builder/base-image.sh [IMAGE]     IMAGE defaults to ponton/base:trixie
#   PONTON_DEBIAN_MIRROR=URL          defaults to the mirror apt on this host uses
set -euo pipefail
image=${1:-ponton/base:trixie}
suite=${PONTON_DEBIAN_SUITE:-trixie}

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "-----> Base image $image exists"
    exit 0
fi

host_mirror() {
    { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
      grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}'; } | grep -m1 -E '/debian/?$' || true
}
mirror=${PONTON_DEBIAN_MIRROR:-$(host_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
echo "-----> Building base image $image: debootstrap $suite from $mirror"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -20 "$rootfs.log" >&2; echo "debootstrap failed (log above)" >&2; exit 1; }
rm -f "$rootfs.log"
# Builds must trust the host's CA bundle: a proxy that intercepts TLS (corporate networks) breaks pip and npm.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/local/share/ca-certificates/host-bundle.crt"
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# mktemp made the directory 0700, and the tar's "./" gives the image's / that mode: on storage drivers that keep
# it (vfs, as on an engine in a container), no process but root's could then reach any file.
chmod 0755 "$rootfs"
tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "-----> Base image $image built"
