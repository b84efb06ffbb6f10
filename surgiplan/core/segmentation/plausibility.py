"""Doubts about a segmentation a preset produced: said in words, never blocking.

"All bone" on a contrast CT labels the heart chambers and the aorta as bone (issue 28: 1225 mL
without a word). Contrast blood (200-500 HU) and cancellous bone (150-500 HU) share their
HU range, so the median HU of a segment does not tell them apart; their surroundings do:
cancellous bone sits inside a cortex that belongs to the segment, a blood pool's thick
200-500 HU core borders soft tissue outside it. :func:`check_bone_segments` flags

* a thick (``core_mm`` inscribed radius) region under 500 HU of a bone segment whose
  border lies mostly outside the segment (measured: the aorta the "bone" preset takes in the
  vascular sample, 1.00 exposed; cancellous bone of the hip, knee and spine samples <= 0.07);
* a bone volume beyond ``max_body_fraction`` of the body in the field of view (voxels above
  -500 HU; the samples: 7 % hip, 18 % knee).

Examples
--------
>>> for d in check_bone_segments(volume, seg):  # doctest: +SKIP
...     print(d.message)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from surgiplan.core.imaging.volume import Volume

BLOOD_MAX_HU = 500.0  # contrast blood stays below; cortex is above
MIN_BLOB_ML = 5.0  # smaller exposed regions are partial-volume rims, not a blood pool
_CONTRAST_WORDS = re.compile(r"\b(cta|angio\w*|contrast|arterial|venous|portal|c\+|kontrast)", re.I)


@dataclass(frozen=True)
class Doubt:
    """One thing a check doubts about segment ``segment``: ``message`` says it and what to do."""

    segment: str
    kind: str  # "contrast-blood" or "too-large"
    volume_ml: float
    message: str


def has_contrast(volume: Volume) -> bool:
    """True when the scan's metadata says it was taken with contrast (DICOM ContrastBolusAgent,
    or CTA / angio / contrast / arterial in the study or series description)."""
    md = volume.metadata or {}
    for key in ("ContrastBolusAgent", "contrast_bolus_agent", "contrast_agent", "contrast"):
        v = md.get(key)
        if v not in (None, "", False) and str(v).strip().lower() not in ("none", "no", "0"):
            return True
    text = " ".join(str(md.get(k) or "") for k in ("study_description", "series_description",
                                                   "StudyDescription", "SeriesDescription"))
    return bool(_CONTRAST_WORDS.search(text))


def is_bone_name(name: str) -> bool:
    """A bone segment's name: "bone", an anatomy's bone ("femur_left", "L4", "sacrum"), or one
    of those made unique ("femur_left_2")."""
    from surgiplan.core.planning.anatomy import BONE_NAMES

    base = re.sub(r"_\d+$", "", name)
    if base in ("bone", *BONE_NAMES):
        return True
    return len(base) > 1 and base[0] in "TC" and base[1:].isdigit()  # thoracic, cervical levels


def _exposed_blobs(a: np.ndarray, m: np.ndarray, spacing, core_mm: float):
    """(mL, exposed fraction, median HU) of each thick region of ``m`` below BLOOD_MAX_HU."""
    low = m & (a < BLOOD_MAX_HU)
    if not low.any():
        return []
    vv = float(np.prod(spacing)) / 1000.0
    it = max(1, int(round(core_mm / min(spacing))))
    core = ndimage.binary_erosion(low, iterations=it)
    if not core.any():
        return []
    lab, _ = ndimage.label(low)
    out = []
    for c, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None or not core[sl][lab[sl] == c].any():
            continue
        sl = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        comp = lab[sl] == c
        ml = comp.sum() * vv
        if ml < MIN_BLOB_ML:
            continue
        shell = ndimage.binary_dilation(comp) & ~comp
        exposed = float((shell & ~m[sl]).sum() / max(shell.sum(), 1))
        out.append((ml, exposed, float(np.median(a[sl][comp]))))
    return out


def check_bone_segments(volume: Volume, seg, names=None, *, core_mm: float = 4.0,
                        max_exposed: float = 0.5, max_body_fraction: float = 0.35) -> list[Doubt]:
    """Doubts about the bone segments ``names`` of ``seg`` (default: those named like bone).

    Parameters
    ----------
    volume : Volume
        The CT (HU) the segmentation is on.
    seg : Segmentation
    names : iterable of str, optional
    core_mm : float
        Inscribed radius (mm) of a region under 500 HU that counts as thick (a blood pool,
        a marrow cavity); thinner ones are partial-volume rims.
    max_exposed : float
        Fraction of such a region's border outside the segment above which it is not
        enclosed by cortex: blood, not bone.
    max_body_fraction : float
        Bone volume above this fraction of the body (voxels above -500 HU) is doubted.

    Returns
    -------
    list of Doubt
        Empty when nothing is doubted.
    """
    a = np.asarray(volume.array)
    names = [n for n in (seg.names if names is None else names) if n in seg.names and
             (names is not None or is_bone_name(n))]
    vv = seg.voxel_volume_mm3 / 1000.0
    contrast = has_contrast(volume)
    body_ml = None
    doubts: list[Doubt] = []
    for name in names:
        m = seg.mask(name)
        total = float(m.sum() * vv)
        if total == 0:
            continue
        blobs = [b for b in _exposed_blobs(a, m, seg.spacing, core_mm) if b[1] > max_exposed]
        if blobs:
            ml = sum(b[0] for b in blobs)
            med = float(np.median(np.concatenate([[b[2]] * max(1, int(b[0])) for b in blobs])))
            why = "this is a contrast scan and " if contrast else ""
            doubts.append(Doubt(name, "contrast-blood", ml, (
                f"'{name}' may include contrast-filled blood (heart, aorta): {why}{ml:.1f} mL of its "
                f"{total:.1f} mL is a thick region of about {med:.0f} HU with no cortex around it. Use the "
                f"anatomy's own preset, raise the lower threshold above the contrast (e.g. 500 HU), "
                f"or erase it with Paint/Scissors.")))
        if body_ml is None:
            body_ml = float((a > -500).sum() * vv)
        if body_ml > 0 and total > max_body_fraction * body_ml:
            doubts.append(Doubt(name, "too-large", total, (
                f"'{name}' is {total:.1f} mL, {100 * total / body_ml:.0f} % of the body in the scan "
                f"(bone is usually under {100 * max_body_fraction:.0f} %): check that the scan is a CT "
                f"in HU and raise the lower threshold, or use the anatomy's preset.")))
    return doubts
