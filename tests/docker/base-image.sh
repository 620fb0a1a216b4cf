#!/usr/bin/env bash
# Makes the runtime base image locally, for machines that reach a Debian package mirror but no
# container registry: debootstrap a minimal bookworm root and `docker import` it as
# kiwi-base:bookworm. The container test then builds the same runtime stage users get from
# debian:bookworm-slim, on this base instead (Dockerfile ARG RUNTIME_BASE).
#
#   tests/docker/base-image.sh            # idempotent: does nothing when the image exists
#   KIWI_BASE_IMAGE=name:tag KIWI_DEBIAN_MIRROR=http://... tests/docker/base-image.sh
#
# Nothing is cached in the repository: the root is built in a temporary directory and removed.
set -euo pipefail

image="${KIWI_BASE_IMAGE:-kiwi-base:bookworm}"
suite=bookworm

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "base-image: $image exists"
    exit 0
fi

# The mirror this machine's apt already uses (deb822 or one-line sources), else Debian's CDN.
mirror_from_apt() {
    local f
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        # deb822: "URIs: http://deb.debian.org/debian" in a stanza whose Suites name bookworm.
        awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u ~ /\/debian\/?$/ {print u; exit}' "$f"
        # one-line: "deb http://deb.debian.org/debian bookworm main"
        awk '$1=="deb" && $3=="bookworm" && $2 ~ /\/debian\/?$/ {print $2; exit}' "$f"
    done | head -n1
}
mirror="${KIWI_DEBIAN_MIRROR:-$(mirror_from_apt)}"
mirror="${mirror:-http://deb.debian.org/debian}"

# debootstrap needs root (it chroots and makes device nodes).
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    echo "base-image: installing debootstrap"
    $SUDO apt-get install -y debootstrap >/dev/null ||
        { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y debootstrap >/dev/null; }
fi

root=$(mktemp -d /tmp/kiwi-base.XXXXXX)
trap '$SUDO rm -rf "$root" "$root.log"' EXIT

# minbase: Essential packages and apt only. ca-certificates for the operator's TLS to the API
# server; libstdc++6 and libgcc-s1 (RocksDB's C++) come with apt but are named so the image does
# not depend on that.
echo "base-image: debootstrap $suite from $mirror (a few minutes)"
$SUDO /usr/sbin/debootstrap --variant=minbase --include=ca-certificates,libstdc++6,libgcc-s1 \
    "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -n 30 "$root.log" >&2
    echo "base-image: debootstrap failed" >&2
    exit 1
}
# Smaller and closer to debian:bookworm-slim: no package cache, lists or docs.
# shellcheck disable=SC2016 # $1 belongs to the inner shell
$SUDO bash -c 'shopt -s nullglob; cd "$1" && rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* \
    usr/share/doc/* usr/share/man/* usr/share/info/*' rm-docs "$root"
# Point apt at the same mirror, so `apt-get install` in a Dockerfile stage works on this base.
echo "deb $mirror $suite main" | $SUDO tee "$root/etc/apt/sources.list" >/dev/null

$SUDO tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $suite $mirror" \
    - "$image" >/dev/null
echo "base-image: imported $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
