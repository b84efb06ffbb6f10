"""Anatomy finders behind the bone presets: table, metal, discs, level names, femoral heads, bad input.

Synthetic volumes with known answers (analytic shapes in LPS mm); no timings.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation import hip_anatomy, spine_anatomy
from surgiplan.core.segmentation.bone_fill import smoothed, solid_bone
from surgiplan.core.segmentation.metal import metal_mask
from surgiplan.core.segmentation.presets import apply_preset
from surgiplan.core.segmentation.scan_axes import axis_signs, spacing_kji
from surgiplan.core.segmentation.table import body_mask, table_mask


def _grid(shape=(40, 120, 120), spacing=(1.5, 1.5, 3.0)):
    nk, nj, ni = shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    x = (i - ni / 2) * spacing[0]
    y = (j - nj / 2) * spacing[1]
    z = k * spacing[2]
    return x, y, z


def _vol(arr, spacing=(1.5, 1.5, 3.0), direction=None):
    return Volume(np.asarray(arr, np.int16), spacing, (0.0, 0.0, 0.0), np.eye(3) if direction is None else direction)


def test_table_found_by_shape_and_body_kept():
    x, y, z = _grid()
    a = np.full(x.shape, -1000.0)
    body = (x / 70) ** 2 + (y / 50) ** 2 <= 1.0
    a[body] = 40.0
    bone = (x / 12) ** 2 + ((y - 20) / 12) ** 2 <= 1.0  # a vertebral body, 500 HU
    a[bone] = 500.0
    # a curved carbon plate 3 mm thick, 15 mm behind the back (+y posterior), through every slice
    plate = (np.abs(y - (68 + 0.004 * x**2)) <= 1.5) & (np.abs(x) <= 80)
    a[plate] = 250.0
    v = _vol(a)
    b = body_mask(v)
    t = table_mask(v, body=b)
    assert t[plate].mean() > 0.9  # the plate, nearly all of it
    assert not t[bone].any() and not t[body].any()
    assert b[body].mean() > 0.97 and not b[plate].any()
    # a short dense object outside the body (a cable, an arm in 10 slices) is not a table
    a2 = a.copy()
    a2[:10][(np.abs(x[:10] + 85) < 3) & (np.abs(y[:10]) < 3)] = 300.0
    t2 = table_mask(_vol(a2))
    assert not t2[:10][(np.abs(x[:10] + 85) < 3) & (np.abs(y[:10]) < 3)].any()


def test_metal_with_blooming_is_its_own_mask():
    x, y, z = _grid((30, 80, 80), (1.0, 1.0, 1.0))
    a = np.full(x.shape, 40.0)
    femur = x**2 + y**2 <= 15.0**2
    a[femur] = 900.0
    rod = x**2 + y**2 <= 4.0**2
    a[rod] = 6000.0
    bloom = (x**2 + y**2 <= 5.5**2) & ~rod
    a[bloom] = 2000.0  # the reconstruction's spread next to the rod
    m = metal_mask(_vol(a, (1.0, 1.0, 1.0)))
    assert m[rod].all() and m[bloom].mean() > 0.9
    assert not m[femur & (x**2 + y**2 > 7.5**2)].any()  # cortex/cancellous beyond 2 mm stays bone
    assert not metal_mask(_vol(np.where(rod, 900.0, a), (1.0, 1.0, 1.0))).any()


def test_discs_found_along_a_profile():
    # bodies 28 mm of 280 HU, discs 9 mm of 90 HU, noise 15 HU, 1 mm steps
    rng = np.random.default_rng(3)
    prof = []
    centres = []
    for _n in range(5):
        prof += [280.0] * 28
        centres.append(len(prof) + 4)
        prof += [90.0] * 9
    prof += [280.0] * 28
    prof = np.array(prof) + rng.normal(0, 15, len(prof))
    found = spine_anatomy.find_discs(prof)
    assert len(found) == 5
    assert np.max(np.abs(np.array(found) - np.array(centres))) <= 2


def test_level_names():
    assert spine_anatomy.name_levels(7, True) == ["sacrum", "L5", "L4", "L3", "L2", "L1", "T12"]
    # no sacrum: the lowest level with ribs is T12, below it L1..
    assert spine_anatomy.name_levels(4, False, [False, False, True, True]) == ["L2", "L1", "T12", "T11"]
    assert spine_anatomy.name_levels(3, False) == ["L3", "L2", "L1"]


def _hip_volume(r=24.0, gap=2.0, spacing=(0.8, 0.8, 1.5)):
    """A femoral head (sphere, 1.5 mm cortex 1200 HU, cancellous 200 HU) in a socket (shell of
    5 mm, 1000 HU, the upper hemisphere) with a neck down and laterally, in soft tissue."""
    shape = (int(110 / spacing[2]), int(110 / spacing[1]), int(110 / spacing[0]))
    nk, nj, ni = shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    x, y, z = (i - ni / 2) * spacing[0], (j - nj / 2) * spacing[1], (k - nk / 2) * spacing[2]
    c = np.array([3.3, -2.1, 1.7])
    d = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
    a = np.full(shape, 45.0)
    # neck: a cylinder of radius 0.6 r from the centre down-laterally (-z, -x)
    u = np.array([-0.6, 0.0, -0.8])
    t = (x - c[0]) * u[0] + (y - c[1]) * u[1] + (z - c[2]) * u[2]
    perp = np.sqrt(np.maximum(d**2 - t**2, 0))
    neck = (t > 0) & (t < 60) & (perp <= 0.6 * r)
    femur = (d <= r) | neck
    a[femur] = 200.0
    shell = femur & ~((d <= r - 1.5) | ((t > 0) & (t < 58.5) & (perp <= 0.6 * r - 1.5)))
    a[shell] = 1200.0
    socket = (d >= r + gap) & (d <= r + gap + 5.0) & (z - c[2] > -0.2 * r) & ~neck
    a[socket] = 1000.0
    from scipy import ndimage

    a = ndimage.gaussian_filter(a, [0.6 / s for s in spacing[::-1]])
    v = Volume(np.round(a).astype(np.int16), spacing, (0.0, 0.0, 0.0), np.eye(3))
    centre_lps = c + np.array([ni / 2 * 0, 0, 0])  # origin is voxel 0; convert below
    centre_idx = np.array([c[2] / spacing[2] + nk / 2, c[1] / spacing[1] + nj / 2, c[0] / spacing[0] + ni / 2])
    return v, centre_idx, femur, socket, centre_lps


def test_femoral_head_found_as_a_sphere_and_split_at_the_joint():
    v, centre_idx, femur, socket, _ = _hip_volume()
    sp = spacing_kji(v)
    img = smoothed(v, 0.6)
    heads = hip_anatomy.find_heads(img, sp)
    assert heads, "no head found"
    h = heads[0]
    err_mm = np.linalg.norm((np.array(h.centre) - centre_idx) * sp)
    assert err_mm < 1.0, f"centre off by {err_mm:.2f} mm"
    assert abs(h.radius_mm - 24.0) < 0.5, f"radius {h.radius_mm:.2f} mm"
    bone = solid_bone(v, low=300, image=img, lids=True)
    h = hip_anatomy.Head(h.centre, h.radius_mm, hip_anatomy.joint_radius(img, sp, h, 300.0), h.score)
    (fem,), rest = hip_anatomy.split_femur(img, bone, sp, [h])
    dice_f = 2 * (fem & femur).sum() / (fem.sum() + femur.sum())
    assert dice_f > 0.9, f"femur Dice {dice_f:.3f}"
    assert (rest & socket).sum() > 0.9 * (bone & socket).sum()  # the socket stays hip bone
    assert not (fem & socket).sum() > 0.02 * socket.sum()


def test_presets_refuse_bad_input():
    flat = _vol(np.full((20, 40, 40), 40))
    with pytest.raises(InputError, match="no voxel reaches|no spinal canal"):
        apply_preset(flat, "spine-bones", anatomy=True)
    oblique = np.array([[0.7071, -0.7071, 0.0], [0.7071, 0.7071, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(InputError, match="axial"):
        axis_signs(_vol(np.zeros((4, 4, 4)), direction=oblique), "hip-bones")
    # bone, but no sphere in a socket: refused with what to do, not a made-up femur
    x, y, z = _grid((30, 80, 80), (1.0, 1.0, 2.0))
    a = np.where((x**2 + y**2 <= 30.0**2) & (x**2 + y**2 >= 25.0**2), 900.0, 40.0)
    with pytest.raises(InputError, match="femoral head|implausible"):
        apply_preset(_vol(a, (1.0, 1.0, 2.0)), "hip-bones")
