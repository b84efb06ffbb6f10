"""Issue 28 bug 8a: a model built from a noisy segment is one shell, not one plus debris
(the aorta STL was 157 shells, 156 of them < 1 mm^3); the removed count is reported."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import Segmentation
from surgiplan.core.surfaces.models import build_model
from surgiplan.core.surfaces.repair import remove_debris, watertight_report

SPACING = (0.8, 0.8, 1.0)


def _noisy_blob(cavity_radius: float = 0.0) -> tuple[Segmentation, int]:
    """A 16 mm ball (optionally hollow) plus specks: 12 single voxels, 3 two-voxel rods and a
    2x2x2 cube (< 10 mm^3 each), well apart from the ball and from each other."""
    shape = (60, 70, 70)
    m = np.zeros(shape, bool)
    k, j, i = np.indices(shape)
    r = np.sqrt(((k - 30) * SPACING[2]) ** 2 + ((j - 35) * SPACING[1]) ** 2 + ((i - 35) * SPACING[0]) ** 2)
    m[r < 16.0] = True
    if cavity_radius:
        m[r < cavity_radius] = False
    specks = 0
    for n in range(12):
        m[3 + 4 * n, 3, 3] = True
        specks += 1
    for n in range(3):
        m[5 + 8 * n, 66, 4:6] = True
        specks += 1
    m[50:52, 60:62, 60:62] = True
    specks += 1
    v = Volume(np.zeros(shape, np.int16), SPACING, origin=(0.0, 0.0, 0.0))
    seg = Segmentation.from_volume(v)
    seg.add_segment("aorta", m)
    return seg, specks


def test_debris_shells_are_removed_and_counted():
    seg, specks = _noisy_blob()
    raw = build_model(seg, "aorta", debris_mm3=None)
    assert raw.report.components == 1 + specks and raw.shells_removed == 0  # today's model
    built = build_model(seg, "aorta")
    assert built.report.components == 1
    assert built.report.watertight
    assert built.debris.shells_before == 1 + specks
    assert built.shells_removed == specks
    assert 0 < built.debris.removed_volume_mm3 < specks * 10.0
    # the ball itself is untouched
    assert built.report.volume_mm3 == pytest.approx(raw.report.volume_mm3 - built.debris.removed_volume_mm3,
                                                    rel=1e-6)
    assert f"{specks} debris shell(s) removed" in built.summary()


def test_the_largest_shells_cavity_stays():
    """A hollow ball's inner wall is a shell of its own, small against the ball: it is kept."""
    seg, specks = _noisy_blob(cavity_radius=2.5)  # ~65 mm^3, < 1 % of the ball's ~17,000
    built = build_model(seg, "aorta")
    assert built.report.components == 2 and built.report.watertight
    assert built.shells_removed == specks and built.debris.cavities_kept == 1


def test_a_single_shell_is_returned_as_it_is():
    import pyvista as pv

    ball = pv.Sphere(radius=5.0)
    out, info = remove_debris(ball)
    assert out is ball and info.shells_removed == 0 and info.shells_before == 1
    two = ball.merge(pv.Sphere(radius=5.0, center=(20.0, 0.0, 0.0)))  # two equal pieces both stay
    out, info = remove_debris(two)
    assert info.shells_removed == 0 and watertight_report(out).components == 2
