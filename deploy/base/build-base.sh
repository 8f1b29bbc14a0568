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
echo "base: debootstrap bookworm into $rootfs"
# BASIN_BUILD_VERBOSE=1 lets debootstrap's "I: Retrieving/Unpacking ..." lines through (the demo
# counts them into a progress line); quiet otherwise.
log=/dev/null
[ -n "${BASIN_BUILD_VERBOSE:-}" ] && log=/dev/stdout
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" http://deb.debian.org/debian >"$log"
echo "base: importing the root into Docker"
tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
echo "base: imported $base"
