#!/bin/sh
# Remove an installed surgiplan: exactly what install.sh listed in install-manifest.txt
# (the application folder, the command link, the menu entry, the icons, the MIME type and
# the folders install.sh made, when empty). Your cases, settings, logs and caches stay
# (see README-INSTALL.txt for where they are).
#   <app>/uninstall.sh                   the installation this script belongs to
#   ./uninstall.sh [--system | --prefix DIR]   from the unpacked archive: finds the installation
set -eu
HERE="$(cd -- "$(dirname -- "$(readlink -f -- "$0")")" && pwd)"
NAME="$(basename -- "$HERE")"
MANIFEST="$HERE/install-manifest.txt"
if [ ! -f "$MANIFEST" ]; then
    APPDIR="$HOME/.local/lib/$NAME"
    case "${1:-}" in
        --system) APPDIR="/opt/$NAME" ;;
        --prefix) APPDIR="$(cd -- "${2:?--prefix needs a folder}" && pwd)/lib/$NAME" ;;
        "") ;;
        *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
    esac
    MANIFEST="$APPDIR/install-manifest.txt"
    [ -f "$MANIFEST" ] || { echo "uninstall.sh: no surgiplan installation found at $APPDIR (no install-manifest.txt)." >&2; exit 1; }
fi
LIST="$(mktemp)"
cp "$MANIFEST" "$LIST"
DATADIR=""
# files first, then the application tree, then the folders made, deepest first
while IFS=' ' read -r kind path; do
    case "$kind" in
        file) if [ -L "$path" ] || [ -f "$path" ]; then rm -f -- "$path"; fi ;;
        data) DATADIR="$path" ;;
    esac
done < "$LIST"
while IFS=' ' read -r kind path; do
    if [ "$kind" = tree ]; then
        case "$path" in */surgiplan-*) rm -rf -- "$path" ;; *) echo "uninstall.sh: refusing to remove $path" >&2 ;; esac
    fi
done < "$LIST"
# the desktop databases that install.sh caused in folders it made itself go too
if [ -n "$DATADIR" ]; then
    if grep -qx "dir $DATADIR/mime" "$LIST" && [ -z "$(ls -A "$DATADIR/mime/packages" 2>/dev/null)" ]; then
        rm -rf -- "$DATADIR/mime"
    fi
    if grep -qx "dir $DATADIR/icons/hicolor" "$LIST"; then rm -f -- "$DATADIR/icons/hicolor/icon-theme.cache"; fi
    if grep -qx "dir $DATADIR/applications" "$LIST"; then rm -f -- "$DATADIR/applications/mimeinfo.cache"; fi
fi
grep '^dir ' "$LIST" | cut -c5- | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- |
while IFS= read -r d; do rmdir -- "$d" 2>/dev/null || true; done
if [ -n "$DATADIR" ]; then
    command -v update-mime-database >/dev/null 2>&1 && [ -d "$DATADIR/mime" ] && update-mime-database "$DATADIR/mime" >/dev/null 2>&1 || true
    command -v update-desktop-database >/dev/null 2>&1 && [ -d "$DATADIR/applications" ] && update-desktop-database "$DATADIR/applications" >/dev/null 2>&1 || true
fi
rm -f "$LIST"
echo "surgiplan removed. Your cases, settings and logs were kept."
