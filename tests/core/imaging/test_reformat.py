"""Oblique and curved reformats against analytic phantoms (LPS mm, any scan orientation)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging.reformat import along_line, cross_section, curved_reformat, oblique_slice
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.planning.measurements.manual import fit_circle

AXIS = np.array([0.35, -0.4, 0.85]) / np.linalg.norm([0.35, -0.4, 0.85])
CENTRE = np.array([-20.0, 35.0, 410.0])
RADIUS = 9.0


def _phantom(direction=None):
    """A tilted cylinder (400 HU, radius 9 mm) in soft tissue (40 HU) on an oblique, anisotropic grid."""
    direction = np.eye(3) if direction is None else direction
    spacing = (0.8, 0.9, 1.25)
    shape = (88, 110, 100)  # k, j, i
    origin = CENTRE - direction @ (np.array(spacing) * np.array(shape[::-1]) / 2)
    vol = Volume(np.zeros(shape, np.int16), spacing, tuple(origin), direction)
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    xyz = vol.index_to_world(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(*shape, 3)
    d = xyz - CENTRE
    radial = np.linalg.norm(d - (d @ AXIS)[..., None] * AXIS, axis=-1)
    vol.array[:] = np.where(radial <= RADIUS, 400, 40)
    return vol


@pytest.fixture(scope="module", params=["identity", "oblique"])
def vol(request):
    rot = None if request.param == "identity" else Rotation.from_euler("xyz", [12, -20, 30], degrees=True).as_matrix()
    return _phantom(rot)


def _circle_of(img, sp, level=220.0):
    inside = img >= level
    return inside.sum() * sp * sp


def test_cross_section_of_a_tilted_cylinder_is_a_circle_of_its_diameter(vol):
    r = cross_section(vol, CENTRE - 30 * AXIS, CENTRE + 30 * AXIS, at=0.5, size_mm=60, spacing_mm=0.25)
    assert np.allclose(r.normal, AXIS) and abs(r.row_dir @ r.col_dir) < 1e-12
    area = _circle_of(r.image, r.spacing)
    assert area == pytest.approx(np.pi * RADIUS**2, rel=0.03)
    # round: the edge points lie on a circle of 18 mm around the line (pixel -> world is LPS)
    inside = r.image >= 220
    edge = inside & ~np.roll(inside, 1, 0) | inside & ~np.roll(inside, 1, 1)
    pts = r.pixel_to_world(np.argwhere(edge))
    fit = fit_circle(pts)
    assert 2 * fit.radius == pytest.approx(2 * RADIUS, abs=0.6)
    assert np.linalg.norm(fit.centre - CENTRE) < 0.4
    # a cut across the axis at 45 deg is an ellipse: area grows by 1/cos(45)
    n45 = np.cross(AXIS, [1, 0, 0])
    n45 = (AXIS + n45 / np.linalg.norm(n45)) / np.sqrt(2)
    e = oblique_slice(vol, CENTRE, n45, size_mm=(80, 80), spacing_mm=0.25)
    assert _circle_of(e.image, e.spacing) == pytest.approx(np.pi * RADIUS**2 * np.sqrt(2), rel=0.04)


def test_along_the_axis_is_a_band_of_the_diameter(vol):
    r = along_line(vol, CENTRE - 25 * AXIS, CENTRE + 25 * AXIS, width_mm=50, margin_mm=0, spacing_mm=0.25)
    assert np.allclose(r.row_dir, AXIS)
    widths = (r.image >= 220).sum(axis=1) * r.spacing
    assert np.median(widths) == pytest.approx(2 * RADIUS, abs=0.5)
    assert np.all(np.abs(widths - 2 * RADIUS) < 1.0)
    # row 0 is the first point
    assert np.allclose(r.pixel_to_world([0, (r.image.shape[1] - 1) / 2]), CENTRE - 25 * AXIS, atol=1e-6)


def test_curved_reformat_of_a_straight_axis_matches_along_line(vol):
    curve = [CENTRE - 20 * AXIS, CENTRE - 5 * AXIS, CENTRE + 20 * AXIS]
    r = curved_reformat(vol, curve, width_mm=50, spacing_mm=0.5)
    assert r.image.shape[0] == 81
    widths = (r.image >= 220).sum(axis=1) * r.spacing
    assert np.all(np.abs(widths - 2 * RADIUS) <= 1.0)


def test_axial_plane_is_the_scans_slice_in_radiological_orientation():
    v = Volume(np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    r = oblique_slice(v, (2.5, 2.0, 4.0), (0, 0, 1), size_mm=(6, 5), spacing_mm=1.0, order=0)
    assert np.allclose(r.col_dir, [1, 0, 0]) and np.allclose(r.row_dir, [0, 1, 0])  # left to the right, P down
    assert np.array_equal(r.image, v.array[2].astype(np.float32))
    assert r.world_to_pixel(r.pixel_to_world([3.0, 4.0])) == pytest.approx([3.0, 4.0])
    out = oblique_slice(v, (500.0, 0.0, 0.0), (0, 0, 1), size_mm=(4, 4), spacing_mm=1.0)
    assert np.all(out.image == -1024.0)  # outside the scan: air


@pytest.mark.parametrize("call,err,msg", [
    (lambda v: oblique_slice(v, (0, 0, 0), (0, 0, 0)), InputError, "no length"),
    (lambda v: oblique_slice(v, (0, 0, np.nan), (0, 0, 1)), InputError, "finite"),
    (lambda v: oblique_slice(v, (0, 0, 0), (0, 0, 1), spacing_mm=0), InputError, "spacing"),
    (lambda v: oblique_slice(v, (0, 0, 0), (0, 0, 1), size_mm=(1e6, 1e6), spacing_mm=0.1), InputError, "4096"),
    (lambda v: oblique_slice(v, (0, 0, 0), (0, 0, 1), order=2), InputError, "order"),
    (lambda v: cross_section(v, (1, 2, 3), (1, 2, 3)), GeometryError, "coincide"),
    (lambda v: curved_reformat(v, [(0, 0, 0)]), InputError, "two finite"),
    (lambda v: curved_reformat(v, [(0, 0, 0), (0, 0, 0)]), GeometryError, "coincide"),
])
def test_bad_input(call, err, msg):
    v = Volume(np.zeros((3, 3, 3), np.int16), (1.0, 1.0, 1.0))
    with pytest.raises(err, match=msg):
        call(v)
