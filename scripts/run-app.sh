#!/usr/bin/env bash
# Run FCN Workbench (sets up .venv on first use). Arguments go to `fcn-workbench`; none opens the app.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/ensure-venv.sh"
exec "$root/.venv/bin/python" "$root/main.py" "$@"
