#!/usr/bin/env bash
# Makes the Debian bookworm base image that Basin's offline images start FROM, with no image
# registry: a root built by debootstrap from Debian's packages, imported into Docker.
#   deploy/base/build-base.sh [IMAGE]    (default basin-base:bookworm; nothing to do if it exists)
set -euo pipefail
base=${1:-${BASIN_BASE_IMAGE:-basin-base:bookworm}}
docker image inspect "$base" >/dev/null 2>&1 && exit 0
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
echo "base: debootstrap bookworm into $rootfs (about a minute)"
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
echo "base: imported $base"
