#!/usr/bin/env bash
# Builds the platform image on a machine with no image registry:
#   1. the debootstrap base (deploy/base/build-base.sh);
#   2. the wheels of Basin's dependencies (less PyTorch, deploy/platform/requirements.py),
#      downloaded on the host, and a wheel of Basin itself;
#   3. docker build of Dockerfile.offline from those files.
#   deploy/platform/build-offline.sh [IMAGE]   (default basin-platform:local)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
base=${BASIN_BASE_IMAGE:-basin-base:bookworm}
image=${1:-${BASIN_PLATFORM_IMAGE:-basin-platform:local}}
python=${PYTHON:-python3}

"$here/../base/build-base.sh" "$base"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/wheels" "$ctx/basin"
"$python" "$here/requirements.py" "$root/pyproject.toml" > "$ctx/wheels/requirements.txt"
"$python" -m pip download -q --only-binary=:all: -d "$ctx/wheels" -r "$ctx/wheels/requirements.txt"
# Debian's Python is 3.11.2: redis wants async-timeout below 3.11.3, which pip on a newer host
# Python does not fetch (its --python-version does not reach python_full_version markers).
"$python" -m pip download -q --only-binary=:all: -d "$ctx/wheels" "async-timeout>=4.0.3"
# Fixed timestamps in the wheel: unchanged sources give the same bytes, and Docker's cache holds.
SOURCE_DATE_EPOCH=315532800 "$python" -m pip wheel -q --no-deps -w "$ctx/basin" "$root"
cp "$here/Dockerfile.offline" "$ctx/Dockerfile"
cp "$here/entrypoint.sh" "$root/starter_kit/starter.ipynb" "$ctx/"
docker build -q --build-arg "BASE=$base" -t "$image" "$ctx" >/dev/null
echo "platform: built $image on $base"
