#!/usr/bin/env bash
# Run FCN Workbench (sets up .venv on first use). Arguments go to `fcn-workbench`; none opens the app.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/ensure-venv.sh"

# Qt's xcb platform plugin (X11) needs a few system libraries a bare Debian/Ubuntu lacks; without them the
# window fails with "Could not load the Qt platform plugin xcb". Name the packages in one line (start anyway).
check_qt_xcb_libs() {
  [[ "${OSTYPE:-}" == linux* ]] || return 0
  [[ -z "${QT_QPA_PLATFORM:-}" || "${QT_QPA_PLATFORM}" == xcb ]] || return 0
  [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]] || return 0
  case "${1:-}" in  # the core commands open no window (a command missing here only costs a hint)
    predict|info|make-demo-data|train|eval|export|bench|-h|--help) return 0 ;;
  esac
  local ldconfig cache missing=() lib
  ldconfig="$(command -v ldconfig || true)"  # often outside a user's PATH, in /sbin
  if [[ -z "$ldconfig" && -x /sbin/ldconfig ]]; then ldconfig=/sbin/ldconfig; fi
  if [[ -z "$ldconfig" && -x /usr/sbin/ldconfig ]]; then ldconfig=/usr/sbin/ldconfig; fi
  [[ -n "$ldconfig" ]] || return 0  # no way to tell: say nothing
  cache="$("$ldconfig" -p 2>/dev/null)" || return 0
  for lib in libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1 \
             libxkbcommon-x11.so.0:libxkbcommon-x11-0 libEGL.so.1:libegl1; do
    grep -qF "${lib%%:*} " <<<"$cache" || missing+=("${lib#*:}")
  done
  if ((${#missing[@]})); then
    echo "fcn-workbench: Qt's xcb platform plugin needs system libraries that are missing; install them with: sudo apt-get install ${missing[*]}" >&2
  fi
}
check_qt_xcb_libs "$@"

exec "$root/.venv/bin/python" "$root/main.py" "$@"
