"""The vessel preset's aorta seed and false-lumen guard on small synthetic scans (HU, mm, [k, j, i])."""

from __future__ import annotations

import numpy as np

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation.vessel_preset import _aorta_seed, _is_bone_section
from surgiplan.core.segmentation.vessel_tracking import restore_false_lumen


def _trunk(nk: int = 40, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft tissue (40 HU) with, on 1 mm pixels and 3 mm slices: a vertebral column (45 mm body,
    250 HU marrow in a 2 mm 700 HU cortex) the whole length, a 2-slice wide sacrum-like block at the
    bottom, and a round 18 mm aorta (300 HU) anterior-left of the column from slice 8 up."""
    j, i = np.mgrid[:n, :n]
    hu = np.full((nk, n, n), 40, np.int16)
    body = np.hypot(i - 60, j - 75) <= 22.5
    cortex = body & (np.hypot(i - 60, j - 75) > 20.5)
    aorta = np.hypot(i - 72, j - 40) <= 9.0
    hu[:, body] = 250
    hu[:, cortex] = 700
    sacrum = (np.abs(i - 60) <= 40) & (np.abs(j - 75) <= 25)
    hu[:3, sacrum] = 260
    hu[8:, aorta] = 300
    return hu, aorta, body


def test_seed_is_the_round_tube_not_the_bone():
    hu, aorta, body = _trunk()
    vol = Volume(hu, (1.0, 1.0, 3.0))
    lumen = (hu >= 150) & (hu <= 800)
    seed, chain, doubts = _aorta_seed(vol, lumen)
    assert aorta[seed[1], seed[2]], seed  # in the aorta, not the marrow or the sacrum
    assert 8 <= seed[0] <= 14  # in the lowest fifth of the tube (slices 8..39)
    assert chain.length_mm == (40 - 8) * 3.0
    assert abs(chain.diameter_mm - 18.0) < 1.0
    assert doubts == []
    # the vertebral body's marrow is as bright as blood, but its cortex rim is brighter than its core
    assert _is_bone_section(hu[20].astype(float), body & (hu[20] < 600), 1.0)
    assert not _is_bone_section(hu[20].astype(float), aorta, 1.0)


def test_short_tube_is_doubted_in_words():
    hu, _, _ = _trunk()
    hu[20:] = np.where(hu[20:] == 300, 40, hu[20:])  # the aorta only over slices 8..19: 36 mm
    vol = Volume(hu, (1.0, 1.0, 3.0))
    _, chain, doubts = _aorta_seed(vol, (hu >= 150) & (hu <= 800))
    assert chain.length_mm == 36.0
    assert len(doubts) == 1 and "only 36 mm long" in doubts[0] and "check" in doubts[0]


def test_round_bright_lumen_gets_no_wall_circle():
    """A normal, fully opacified round aorta (300 HU) with soft tissue (oesophagus, 40 HU) behind it in fat:
    the round wall circle through the tissue edge would take the tissue in as a "false lumen"."""
    nk, n = 12, 80
    j, i = np.mgrid[:n, :n]
    aorta = np.hypot(i - 40, j - 36) <= 10
    tissue = (np.hypot(i - 40, j - 36) <= 17) & ~aorta  # 7 mm of soft tissue around it
    hu = np.full((nk, n, n), -100.0, np.float32)
    hu[:, tissue] = 40.0
    hu[:, aorta] = 300.0
    tube = np.broadcast_to(aorta, hu.shape).copy()
    with_circle = restore_false_lumen(tube, hu, slice_mm=3.0, round_skip=0.0)
    assert with_circle.sum() > 1.3 * tube.sum()  # the guard off: the crescent is taken (the defect)
    assert np.array_equal(restore_false_lumen(tube, hu, slice_mm=3.0), tube)
