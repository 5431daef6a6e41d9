#!/usr/bin/env bash
# Fill .gpu_wheels/ with the wheels that scripts/gpu_check.sh installs on a GPU machine without internet.
#
#   scripts/gpu_check_wheels.sh [--python-version 3.12] [--have FILE] [--dest DIR] [--no-deps] [--dry-run] [PACKAGE ...]
#
# Run it where PyPI is reachable. PACKAGEs default to requirements.txt without torch and torchvision (the GPU
# machine has its own CUDA build) plus the test packages pytest and hypothesis. Wheels are for CPython
# --python-version (default 3.12) on x86-64 Linux (manylinux), with their dependencies unless --no-deps (a package
# that depends on torch would pull torch in: name such packages with --no-deps).
# --have FILE lists what the GPU machine already has (`python3 -m pip list --format=freeze` run there, or one name
# per line): those are neither asked for nor kept, so only what is missing travels. gpu_check.py prints the
# missing packages it sees in its first lines and in gpu_check.json (environment.missing_packages).
# --dest defaults to .gpu_wheels/ in the repository (git-ignored). --dry-run prints the pip command only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
version=3.12 have= dest=$root/.gpu_wheels deps=--deps dry=
packages=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --python-version) version=${2:?--python-version needs a value like 3.12}; shift 2 ;;
    --have) have=${2:?--have needs a file}; shift 2 ;;
    --dest) dest=${2:?--dest needs a folder}; shift 2 ;;
    --no-deps) deps=--no-deps; shift ;;
    --dry-run) dry=1; shift ;;
    -*) echo "gpu_check_wheels.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) packages+=("$1"); shift ;;
  esac
done
[[ $version =~ ^3\.[0-9]+$ ]] || { echo "gpu_check_wheels.sh: --python-version: expected 3.N, got $version" >&2; exit 2; }
[[ -z $have || -f $have ]] || { echo "gpu_check_wheels.sh: --have: $have is not a file" >&2; exit 2; }

# the packages to ask for: requirement names normalised as PyPI does, less those the target has
mapfile -t wanted < <("$python" - "$root/requirements.txt" "$have" "${packages[@]}" <<'PY'
import re, sys
requirements, have_file, *named = sys.argv[1:]
norm = lambda name: re.sub(r'[-_.]+', '-', name).lower()
if not named:
    lines = [line.split('#')[0].strip() for line in open(requirements)]
    named = [line for line in lines if line and norm(re.split(r'[<>=!~;\[ ]', line)[0]) not in ('torch', 'torchvision')]
    named += ['pytest>=7.0', 'hypothesis>=6.0']
have = set()
if have_file:
    for line in open(have_file):
        name = re.split(r'[<>=!~;@\[ ]', line.split('#')[0].strip())[0]
        if name:
            have.add(norm(name))
for requirement in named:
    if norm(re.split(r'[<>=!~;\[ ]', requirement)[0]) not in have:
        print(requirement)
PY
)
if ((${#wanted[@]} == 0)); then
  echo "gpu_check_wheels.sh: nothing is missing on the target; no wheel to fetch"
  exit 0
fi
platforms=()
for tag in manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 manylinux_2_31 manylinux_2_34 manylinux_2_35 \
           manylinux2014 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
command=("$python" -m pip download --only-binary=:all: --implementation cp --python-version "$version"
         "${platforms[@]}" --dest "$dest")
[[ $deps == --no-deps ]] && command+=(--no-deps)
command+=("${wanted[@]}")
if [[ -n $dry ]]; then
  printf '%q ' "${command[@]}"; echo
  exit 0
fi
mkdir -p "$dest"
"${command[@]}"
if [[ -n $have ]]; then  # dependencies the target already has do not travel
  "$python" - "$dest" "$have" <<'PY'
import pathlib, re, sys
dest, have_file = pathlib.Path(sys.argv[1]), sys.argv[2]
norm = lambda name: re.sub(r'[-_.]+', '-', name).lower()
have = {norm(re.split(r'[<>=!~;@\[ ]', line.split('#')[0].strip())[0]) for line in open(have_file)} - {''}
for wheel in dest.glob('*.whl'):
    if norm(wheel.name.split('-')[0]) in have:
        wheel.unlink()
PY
fi
echo "gpu_check_wheels.sh: $(ls "$dest"/*.whl 2>/dev/null | wc -l) wheel(s), $(du -sh "$dest" | cut -f1) in $dest"
