#!/usr/bin/env bash
# One command for the GPU check: scripts/gpu_check.sh --out DIR [gpu_check.py options; --help lists them].
#
# Runs from a copy of the working tree on a machine without internet: when .gpu_wheels/ (filled beforehand, where
# PyPI is reachable, by scripts/gpu_check_wheels.sh) holds wheels, they are installed first, without an index and
# without their dependencies, into a folder of their own ($GPU_CHECK_SITE, default /tmp/basicsr-gpu-check-site)
# that goes first on PYTHONPATH; the Python environment itself is left as it is. $PYTHON picks the interpreter
# (default python3).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
wheels=$root/.gpu_wheels

for arg in "$@"; do
  case $arg in -h|--help) exec "$python" "$root/scripts/gpu_check.py" --help ;; esac
done

shopt -s nullglob
found=("$wheels"/*.whl)
if ((${#found[@]})); then
  site=${GPU_CHECK_SITE:-/tmp/basicsr-gpu-check-site}
  echo "gpu_check.sh: installing ${#found[@]} wheel(s) from $wheels into $site"
  "$python" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" "${found[@]}"
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$python" "$root/scripts/gpu_check.py" "$@"
