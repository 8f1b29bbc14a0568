#!/usr/bin/env bash
# Builds the CPU sandbox image on a machine with no image registry.
#   1. a Debian bookworm root made with debootstrap (deploy/base/build-base.sh), imported as BASE;
#   2. the wheels the runtime needs, downloaded on the host (pip reaches the package index,
#      a build container does not), plus a wheel of basin_grader built from grader/;
#   3. docker build of Dockerfile.offline from those files.
# Idempotent: the base is made once; the image is rebuilt when grader/ changes (docker caches).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
base=${BASIN_SANDBOX_BASE:-basin-base:bookworm}
image=${BASIN_SANDBOX_IMAGE:-basin-sandbox:cpu}
python=${PYTHON:-python3}

"$here/../base/build-base.sh" "$base"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/wheels"
cp "$here/requirements-cpu.txt" "$ctx/wheels/requirements.txt"
echo "sandbox: downloading the runtime's wheels (torch CPU, numpy, safetensors)"
"$python" -m pip download -q --only-binary=:all: -d "$ctx/wheels" -r "$here/requirements-cpu.txt"
echo "sandbox: building the basin_grader wheel from grader/"
"$python" -m pip wheel -q --no-deps -w "$ctx/wheels" "$root/grader"
cp "$here/Dockerfile.offline" "$ctx/Dockerfile"
label=()
[ -n "${BASIN_SANDBOX_LABEL:-}" ] && label=(--label "$BASIN_SANDBOX_LABEL")  # which grader sources it holds
echo "sandbox: docker build $image"
if [ -n "${BASIN_BUILD_VERBOSE:-}" ]; then  # its "Step N/M" lines, for the demo's progress line
  docker build --build-arg "BASE=$base" "${label[@]}" -t "$image" "$ctx"
else
  docker build -q --build-arg "BASE=$base" "${label[@]}" -t "$image" "$ctx" >/dev/null
fi
echo "sandbox: built $image on $base"
