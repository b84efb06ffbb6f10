"""Human names of plan objects: landmarks, implants, resections (one function for window, CLI, report).

Keys stay machine names in files (``acetabular_centre_left``, ``femoral_stem_2``,
``distal_femur``); people read ``"Acetabular centre (left)"``, ``"Femoral stem 2"``,
``"Distal femoral cut"``.

Examples
--------
>>> human_name("acetabular_centre_left")
'Acetabular centre (left)'
>>> human_name("femoral_stem_2")
'Femoral stem 2'
>>> human_name("pedicle_entry_L3_right")
'Pedicle entry L3 (right)'
>>> human_name("asis_left")
'ASIS (left)'
>>> human_name("distal_femur")
'Distal femoral cut'
>>> key_of("Acetabular centre (left)", ["acetabular_centre_left", "asis_left"])
'acetabular_centre_left'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Names that are not the words of their key (resections, abbreviations people say as such).
SPECIAL: dict[str, str] = {
    "distal_femur": "Distal femoral cut",
    "proximal_tibia": "Proximal tibial cut",
    "femoral_neck": "Femoral neck cut",
    "neck_cut": "Femoral neck cut",
    "hip_centre": "Hip centre",
    "knee_centre_femur": "Knee centre (femur)",
    "knee_centre_tibia": "Knee centre (tibia)",
}
#: Words written in capitals (anatomical abbreviations and vertebral levels).
UPPER = {"asis", "psis", "app", "cor", "hka", "acl", "pcl", "ml", "ap"}
_LEVEL = re.compile(r"^[lts]\d{1,2}$|^c\d$", re.IGNORECASE)
SIDES = ("left", "right")


def _word(w: str) -> str:
    if w.lower() in UPPER:
        return w.upper()
    if _LEVEL.match(w):
        return w.upper()
    return w


def human_name(key: str) -> str:
    """The name a person reads for a landmark, implant id, resection or measurement key.

    Parameters
    ----------
    key : str
        Machine name (``snake_case``; a trailing ``_left`` / ``_right`` becomes
        ``" (left)"``; a trailing number stays a number: ``femoral_stem_2`` ->
        ``"Femoral stem 2"``).

    Returns
    -------
    str
        Capitalised words; abbreviations (ASIS, COR, HKA) and vertebral levels (L3) in capitals.
    """
    key = str(key).strip()
    if not key:
        return ""
    if key in SPECIAL:
        return SPECIAL[key]
    words = [w for w in key.split("_") if w]
    side = ""
    # a side may come before a trailing number (femoral_stem_left_2 is rare; stem_2 common)
    num = words.pop() if len(words) > 1 and words[-1].isdigit() else ""
    if len(words) > 1 and words[-1].lower() in SIDES:
        side = words.pop().lower()
    base = "_".join(words)
    if base in SPECIAL:
        text = SPECIAL[base]
    else:
        text = " ".join(_word(w) for w in words)
        if text and text[0].islower():
            text = text[0].upper() + text[1:]
    if num:
        text += f" {num}"
    if side:
        text += f" ({side})"
    return text


def key_of(text: str, keys: Iterable[str]) -> str:
    """The key among ``keys`` whose :func:`human_name` (or itself) is ``text``; else ``text`` as a key.

    A typed name that matches no known key becomes a key by lower-casing it and
    joining words with underscores (``"My point"`` -> ``"my_point"``) - what the
    window stores for a landmark the surgeon names.
    """
    t = str(text).strip()
    for k in keys:
        if t == k or t == human_name(k):
            return k
    m = re.match(r"^(.*?) \((left|right)\)$", t)
    if m:
        t = f"{m.group(1)} {m.group(2)}"
    return re.sub(r"\s+", "_", t).lower() if " " in t else t
