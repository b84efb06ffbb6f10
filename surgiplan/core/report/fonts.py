"""The report's embedded fonts: DejaVu Sans (regular, bold, condensed), TrueType.

Looked up first in ``resources/fonts/`` (bundled with their licence, ``LICENSE-DejaVu.txt``:
Bitstream Vera licence, DejaVu changes public domain), then in the usual system folders.
reportlab embeds the glyphs used (subset), so the PDF shows the same text everywhere and
every symbol printed (°, ³, ±, ▲, ▼, ✓) exists in the font.
"""

from __future__ import annotations

from pathlib import Path

from surgiplan.core.errors import InputError

FACES = {
    "Report": "DejaVuSans.ttf",
    "Report-Bold": "DejaVuSans-Bold.ttf",
    "Report-Cond": "DejaVuSansCondensed.ttf",
    "Report-CondBold": "DejaVuSansCondensed-Bold.ttf",
}
SYSTEM_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF",
               "/Library/Fonts", "C:/Windows/Fonts")
_registered = False


def font_dirs() -> list[Path]:
    """Where the fonts are looked for, in order."""
    from surgiplan.core.planning.catalog.loader import resources_dir

    return [resources_dir() / "fonts", *(Path(d) for d in SYSTEM_DIRS)]


def register_fonts() -> None:
    """Register the report faces with reportlab once (InputError naming the folders if missing)."""
    global _registered
    if _registered:
        return
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for face, file in FACES.items():
        path = next((d / file for d in font_dirs() if (d / file).is_file()), None)
        if path is None:
            raise InputError(f"the report font {file} was not found in {', '.join(map(str, font_dirs()))}",
                             hint="Reinstall surgiplan (resources/fonts) or install the DejaVu fonts.")
        pdfmetrics.registerFont(TTFont(face, str(path)))
    addMapping("Report", 0, 0, "Report")
    addMapping("Report", 1, 0, "Report-Bold")
    addMapping("Report", 0, 1, "Report")
    addMapping("Report", 1, 1, "Report-Bold")
    addMapping("Report-Cond", 0, 0, "Report-Cond")
    addMapping("Report-Cond", 1, 0, "Report-CondBold")
    addMapping("Report-Cond", 0, 1, "Report-Cond")
    addMapping("Report-Cond", 1, 1, "Report-CondBold")
    _registered = True
