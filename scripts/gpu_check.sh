#!/usr/bin/env bash
# Every GPU figure in one run (≤ 8 minutes on an H100/H200), printed as one table: see scripts/gpu_check.py.
#   bash scripts/gpu_check.sh [--json FILE]     on a CUDA machine
#   bash scripts/gpu_check.sh --dry             the same steps on the CPU at tiny sizes (the tests run this)
# Uses the project's .venv when there is one, else python3 (a GPU machine with its own torch).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$root/.venv/bin/python"
[ -x "$python" ] || python="$(command -v python3)"
exec "$python" "$root/scripts/gpu_check.py" "$@"
