#!/bin/sh
# Install surgiplan from this unpacked archive.
#   ./install.sh             per user: ~/.local/lib/surgiplan-<version>, ~/.local/bin/surgiplan,
#                            menu entry, icon and case MIME type under ~/.local/share
#   sudo ./install.sh --system   system-wide: /opt/surgiplan-<version>, /usr/local/bin/surgiplan,
#                            /usr/share/applications, /usr/share/icons, /usr/share/mime
#   ./install.sh --prefix DIR    everything under DIR (DIR/lib, DIR/bin, DIR/share): packagers, tests
# Every file and folder made is listed in <app>/install-manifest.txt; uninstall.sh removes exactly those.
set -eu
SRC="$(cd -- "$(dirname -- "$(readlink -f -- "$0")")" && pwd)"
NAME="$(basename -- "$SRC")"                       # surgiplan-<version>
MODE=user PREFIX=""
while [ $# -gt 0 ]; do
    case "$1" in
        --system) MODE=system ;;
        --prefix) PREFIX="${2:?--prefix needs a folder}"; MODE=prefix; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (use --system, --prefix DIR or nothing)" >&2; exit 2 ;;
    esac
    shift
done
case "$MODE" in
    user)   APPDIR="$HOME/.local/lib/$NAME"; BINDIR="$HOME/.local/bin"; DATADIR="${XDG_DATA_HOME:-$HOME/.local/share}" ;;
    system) APPDIR="/opt/$NAME"; BINDIR="/usr/local/bin"; DATADIR="/usr/share" ;;
    prefix) mkdir -p "$PREFIX"; PREFIX="$(cd -- "$PREFIX" && pwd)"
            APPDIR="$PREFIX/lib/$NAME"; BINDIR="$PREFIX/bin"; DATADIR="$PREFIX/share" ;;
esac
if [ "$MODE" = system ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh --system writes to /opt and /usr/share: run it as root (sudo ./install.sh --system)," >&2
    echo "or install for yourself with ./install.sh" >&2
    exit 1
fi
if [ -e "$APPDIR" ]; then
    echo "install.sh: $APPDIR exists already: run its uninstall.sh first, then install again." >&2
    exit 1
fi
[ -x "$SRC/python/bin/python3.12" ] || { echo "install.sh: $SRC is not a complete surgiplan bundle (python/ missing); unpack the archive again." >&2; exit 1; }

MANIFEST_TMP="$(mktemp)"
trap 'rm -f "$MANIFEST_TMP"' EXIT
made_dirs() {  # record the folders that do not exist yet (removed on uninstall when empty)
    d="$1"; list=""
    while [ ! -d "$d" ]; do list="$d
$list"; d="$(dirname -- "$d")"; done
    printf '%s' "$list" | while IFS= read -r x; do [ -n "$x" ] && echo "dir $x" >> "$MANIFEST_TMP"; done
    mkdir -p "$1"
}
put() {  # put SOURCE DEST [MODE]: copy one file, recorded
    made_dirs "$(dirname -- "$2")"
    cp "$1" "$2.part.$$" && chmod "${3:-644}" "$2.part.$$" && mv -f "$2.part.$$" "$2"
    echo "file $2" >> "$MANIFEST_TMP"
}

echo "Installing surgiplan into $APPDIR"
made_dirs "$(dirname -- "$APPDIR")"
cp -a "$SRC" "$APPDIR.part.$$"
mv "$APPDIR.part.$$" "$APPDIR"
echo "tree $APPDIR" >> "$MANIFEST_TMP"
made_dirs "$BINDIR"
ln -sfn "$APPDIR/bin/surgiplan" "$BINDIR/surgiplan"
echo "file $BINDIR/surgiplan" >> "$MANIFEST_TMP"

DESKTOP_TMP="$(mktemp)"
sed "s|^Exec=surgiplan |Exec=\"$APPDIR/bin/surgiplan\" |" "$SRC/share/applications/surgiplan.desktop" > "$DESKTOP_TMP"
put "$DESKTOP_TMP" "$DATADIR/applications/surgiplan.desktop"
rm -f "$DESKTOP_TMP"
put "$SRC/share/icons/hicolor/scalable/apps/surgiplan.svg" "$DATADIR/icons/hicolor/scalable/apps/surgiplan.svg"
put "$SRC/share/icons/hicolor/256x256/apps/surgiplan.png" "$DATADIR/icons/hicolor/256x256/apps/surgiplan.png"
put "$SRC/share/mime/packages/surgiplan-case.xml" "$DATADIR/mime/packages/surgiplan-case.xml"
echo "data $DATADIR" >> "$MANIFEST_TMP"
cp "$MANIFEST_TMP" "$APPDIR/install-manifest.txt"

# desktop databases, when the tools are there (a minimal system has none of them)
command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$DATADIR/mime" >/dev/null 2>&1 || true
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATADIR/applications" >/dev/null 2>&1 || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$DATADIR/icons/hicolor" >/dev/null 2>&1 || true
if [ "$MODE" = user ] && command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime default surgiplan.desktop application/x-surgiplan-case >/dev/null 2>&1 || true
fi

"$APPDIR/bin/surgiplan" --version
echo "Done. Start surgiplan from the applications menu, or run: $BINDIR/surgiplan"
case ":$PATH:" in *":$BINDIR:"*) ;; *) echo "($BINDIR is not on your PATH; the menu entry works without it)";; esac
echo "To remove it: $APPDIR/uninstall.sh"
