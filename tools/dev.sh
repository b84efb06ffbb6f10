#!/usr/bin/env bash
# surgiplan set-up and run: finds a Python >= 3.12, creates or reuses .venv at the
# repository root, installs surgiplan with pinned dependencies, then runs
#   tools/dev.sh run   -> the main job (window with a display, headless demo without)
#   tools/dev.sh test  -> the whole test suite
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

find_python() {
    local candidates=()
    [ -n "${SURGIPLAN_PYTHON:-}" ] && candidates+=("$SURGIPLAN_PYTHON")
    candidates+=(python3.14 python3.13 python3.12 python3 python)
    # pyenv installs (a bare pyenv shim may exist but exit 127, so each is run)
    for d in "$HOME"/.pyenv/versions/3.1[2-9]*/bin /usr/local/bin /usr/bin; do
        [ -d "$d" ] && for p in "$d"/python3.1[2-9]; do [ -x "$p" ] && candidates+=("$p"); done
    done
    for c in "${candidates[@]}"; do
        if "$c" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
            echo "$c"; return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
        local py
        if ! py="$(find_python)"; then
            echo "surgiplan needs Python 3.12 or newer and none was found." >&2
            echo "Install one (e.g. 'apt-get install python3.12 python3.12-venv' or pyenv) or set SURGIPLAN_PYTHON=/path/to/python3.12." >&2
            exit 2
        fi
        echo "Creating .venv with $("$py" --version 2>&1) ($py)"
        rm -rf .venv
        "$py" -m venv .venv
    fi
    local stamp=.venv/.surgiplan-installed
    local want
    want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "Installing surgiplan and its pinned dependencies into .venv (about a minute)"
        if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip &&
               .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"; } \
               > .venv/install.log 2>&1; then
            cat .venv/install.log >&2
            echo "Installing into .venv failed (log above, also in .venv/install.log)." >&2
            echo "Check the network connection to the Python package index and run this again." >&2
            exit 1
        fi
        echo "$want" > "$stamp"
    fi
}

cmd="${1:-run}"
shift || true
ensure_venv
case "$cmd" in
    run)
        if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
            exec .venv/bin/surgiplan gui --sample hip "$@"
        else
            exec .venv/bin/surgiplan demo --overwrite --simulate "$@"
        fi
        ;;
    test)
        export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
        if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
            unset QT_QPA_PLATFORM
            exec xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m pytest "$@"
        fi
        exec .venv/bin/python -m pytest "$@"
        ;;
    *)
        echo "usage: tools/dev.sh run|test [arguments]" >&2
        exit 2
        ;;
esac
