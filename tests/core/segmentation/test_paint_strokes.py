"""A brush stroke between two mouse positions is the swept sphere (a capsule), analytic volume."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation import islands
from surgiplan.core.segmentation.brush import paint, paint_line
from surgiplan.core.segmentation.segmentation import Segmentation
from surgiplan.core.undo import History


@pytest.mark.parametrize("oblique", [False, True])
def test_a_line_stroke_is_a_capsule(oblique):
    d = Rotation.from_euler("z", 25, degrees=True).as_matrix() if oblique else np.eye(3)
    sp = (0.5, 0.5, 0.8)
    v = Volume(np.zeros((60, 120, 120), np.int16), sp, origin=(-30.0, -30.0, 100.0), direction=d)
    seg = Segmentation.from_volume(v)
    seg.add_segment("s")
    a = v.index_to_world([30, 60, 30])
    b = a + np.array([18.0, 6.0, 4.0])
    patch = paint_line(seg, "s", a, b, 3.0)
    m = seg.mask("s")
    length = np.linalg.norm(b - a)
    capsule = np.pi * 9 * length + 4 / 3 * np.pi * 27
    assert m.sum() * np.prod(sp) == pytest.approx(capsule, rel=0.04)
    assert islands.label_components(m)[1].size == 2  # one piece
    # every point of the segment is painted
    for t in np.linspace(0, 1, 25):
        ijk = np.round(v.world_to_index(a + t * (b - a))).astype(int)
        assert m[ijk[2], ijk[1], ijk[0]]
    patch.revert()
    assert not seg.layers[0].any()


def test_dots_vs_stroke_on_fast_mouse_positions():
    v = Volume(np.zeros((20, 80, 80), np.int16), (1.0, 1.0, 1.0))
    seg = Segmentation.from_volume(v)
    seg.add_segment("s")
    pts = [v.index_to_world([10 + 12 * n, 40, 10]) for n in range(6)]  # 12 mm apart, 2 mm brush
    h = History()
    for p in pts:
        h.push(paint(seg, "s", p, 2.0))
    dots = islands.label_components(seg.mask("s"))[1].size - 1
    assert dots == 6  # what painting at the mouse positions alone gave
    while h.undo():
        pass
    for p, q in zip(pts[:-1], pts[1:], strict=True):
        paint_line(seg, "s", p, q, 2.0)
    assert islands.label_components(seg.mask("s"))[1].size - 1 == 1
    # erase along a line cuts it in two and leaves other segments alone
    seg.add_segment("other")
    paint(seg, "other", v.index_to_world([40, 32, 10]), 1.5)
    n_other = seg.mask("other").sum()
    paint_line(seg, "s", v.index_to_world([40, 30, 10]), v.index_to_world([40, 50, 10]), 3.0, erase=True)
    assert islands.label_components(seg.mask("s"))[1].size - 1 == 2
    assert n_other > 0 and seg.mask("other").sum() == n_other


@pytest.mark.parametrize("radius,a,msg", [(0.0, (0, 0, 0), "> 0 mm"), (np.nan, (0, 0, 0), "> 0 mm"),
                                          (2.0, (0, np.inf, 0), "finite")])
def test_bad_brush(radius, a, msg):
    v = Volume(np.zeros((5, 5, 5), np.int16), (1.0, 1.0, 1.0))
    seg = Segmentation.from_volume(v)
    seg.add_segment("s")
    with pytest.raises(InputError, match=msg):
        paint_line(seg, "s", a, (1, 1, 1), radius)
    p = paint_line(seg, "s", (500, 0, 0), (600, 0, 0), 2.0)  # outside the grid: nothing
    assert p.box is None and not seg.layers[0].any()
