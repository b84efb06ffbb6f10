#!/bin/sh
# surgiplan launcher of the relocatable bundle: finds the bundle from its own path
# (through symlinks such as ~/.local/bin/surgiplan), points the app at the bundle's
# resources, seeds the user's form-compiler cache with the precompiled study forms
# and runs the bundle's own Python. Nothing is written into the bundle.
set -e
self="$(readlink -f -- "$0")"
APP="$(cd -- "$(dirname -- "$self")/.." && pwd)"
export SURGIPLAN_RESOURCES="$APP/share/surgiplan/resources"
export SURGIPLAN_BUNDLE="$APP"
export PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1 PYTHONSAFEPATH=1
unset PYTHONHOME PYTHONPATH
# the precompiled FFCx forms (a study then solves without a C compiler); cp -n keeps the user's files
seed="$APP/share/surgiplan/fenics-cache"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/fenics"
if [ -d "$seed" ] && [ ! -f "$cache/.surgiplan-seeded-$(basename "$APP")" ]; then
    mkdir -p "$cache" 2>/dev/null && cp -n "$seed"/* "$cache"/ 2>/dev/null \
        && : > "$cache/.surgiplan-seeded-$(basename "$APP")" || true
fi
# a case.json given by the file manager (MIME type) opens its case folder
if [ "$1" = "gui" ] && [ $# -eq 2 ] && [ "$(basename -- "$2")" = "case.json" ]; then
    set -- gui "$(dirname -- "$2")"
fi
exec "$APP/python/bin/python3.12" -m surgiplan "$@"
