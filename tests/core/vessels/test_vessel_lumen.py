"""Lumen surface, centrelines and stenosis on a synthetic CT angiogram with an exact answer.

A tube (radius 4 mm) with a cosine stenosis to 50 % diameter runs obliquely through a 0.6 mm volume;
lumen 350 HU, wall/plaque 60 HU around it out to radius 6 mm, fat -90 HU beyond; blurred with a
Gaussian PSF (FWHM 1 mm) then sampled. The true minimal diameter is 4.0 mm, the reference 8.0 mm.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

R_REF, PCT, LESION_LEN = 4.0, 50.0, 12.0
AXIS = np.array([0.3, 0.2, 1.0]) / np.linalg.norm([0.3, 0.2, 1.0])
CENTRE = np.array([0.0, 0.0, 0.0])


def _radius(s):
    u = np.clip(s / (LESION_LEN / 2), -1, 1)
    return R_REF * (1 - PCT / 100 * 0.5 * (1 + np.cos(np.pi * u)))


@pytest.fixture(scope="module")
def phantom():
    from surgiplan.core.imaging.volume import Volume

    sp = 0.6
    n = (int(70 / sp), int(36 / sp), int(36 / sp))  # k (z), j, i
    origin = (-18.0, -18.0, -35.0)
    # supersampled by 2 for partial volume, then blurred and averaged
    f = 2
    zz, yy, xx = np.meshgrid(*[origin[2 - a] + (np.arange(n[a] * f) - (f - 1) / 2) * sp / f for a in range(3)],
                             indexing="ij", sparse=True)
    p = np.stack(np.broadcast_arrays(xx, yy, zz), axis=-1) - CENTRE
    s = p @ AXIS
    rho = np.linalg.norm(p - s[..., None] * AXIS, axis=-1)
    hu = np.where(rho < _radius(s), 350.0, np.where(rho < 6.0, 60.0, -90.0)).astype(np.float32)
    sigma = 1.0 / 2.3548 / (sp / f)
    hu = ndi.gaussian_filter(hu, sigma)
    hu = hu.reshape(n[0], f, n[1], f, n[2], f).mean(axis=(1, 3, 5))
    vol = Volume(hu.astype(np.int16), (sp, sp, sp), origin)
    mask = hu > 200  # a segmentation as a threshold tool would give it (narrower than the truth)
    return vol, mask


@pytest.fixture(scope="module")
def model(phantom):
    from surgiplan.core.vessels import centreline as C
    from surgiplan.core.vessels.lumen_surface import lumen_field, surface_from_field

    vol, mask = phantom
    lf = lumen_field(vol, mask, 0.5)
    surf = surface_from_field(lf)
    ends = C.open_ends(lf)
    inlet = max(ends, key=lambda e: e.centre[2])
    outs = [e for e in ends if e is not inlet]
    cls = C.centrelines(lf, inlet, outs)
    for cl in cls:
        C.measure_radius(surf, cl)
    return lf, surf, ends, cls


def test_two_open_ends_on_the_scan_faces(model):
    _, _, ends, _ = model
    assert len(ends) == 2
    for e in ends:  # where the tube axis meets z = top/bottom slice, area of the oblique section
        t = (e.centre[2] - CENTRE[2]) / AXIS[2]
        assert np.linalg.norm(e.centre - (CENTRE + t * AXIS)) < 0.8
        assert e.area_mm2 == pytest.approx(np.pi * R_REF**2 / AXIS[2], rel=0.08)


def test_centreline_follows_the_axis_and_radius_matches(model):
    _, _, _, cls = model
    cl = cls[0]
    rel = cl.points - CENTRE
    off = np.linalg.norm(rel - (rel @ AXIS)[:, None] * AXIS, axis=1)
    assert np.max(off[3:-3]) < 0.5
    s = rel @ AXIS
    healthy = (np.abs(s) > 12) & np.isfinite(cl.radius_mm)
    assert np.median(cl.radius_mm[healthy]) == pytest.approx(R_REF, abs=0.15)


def test_stenosis_detected_at_the_true_place_and_degree(model):
    from surgiplan.core.vessels import centreline as C

    _, _, _, cls = model
    st = C.find_stenoses(cls, C.branch_points(cls))
    assert len(st) == 1
    f = st[0]
    assert np.linalg.norm(f.point - CENTRE) < 1.0
    assert f.minimal_diameter_mm == pytest.approx(2 * _radius(0.0), abs=0.3)  # 4.0 mm, the true edge
    assert f.reference_diameter_mm == pytest.approx(2 * R_REF, abs=0.3)
    assert f.percent_diameter == pytest.approx(PCT, abs=4.0)
    assert f.length_mm == pytest.approx(LESION_LEN * 0.6, abs=3.5)  # where the diameter is < 95 %: 0.57 L


def test_stent_opens_the_lesion_to_its_nominal_diameter(model):
    from surgiplan.core.vessels import centreline as C
    from surgiplan.core.vessels.lumen_surface import open_with_stent, surface_from_field

    lf, _, _, cls = model
    opened = surface_from_field(open_with_stent(lf, CENTRE, AXIS, 4.0, 20.0))
    cl = C.measure_radius(opened, cls[0])
    s = (cl.points - CENTRE) @ AXIS
    inside = (np.abs(s) < 8) & np.isfinite(cl.radius_mm)
    assert np.min(cl.radius_mm[inside]) == pytest.approx(4.0, abs=0.2)


def test_bad_masks_are_clear_errors(phantom):
    from surgiplan.core.errors import InputError
    from surgiplan.core.vessels.lumen_surface import lumen_field

    vol, mask = phantom
    with pytest.raises(InputError, match="does not match the scan"):
        lumen_field(vol, mask[:-1])
    with pytest.raises(InputError, match="empty or too small"):
        lumen_field(vol, np.zeros_like(mask))
