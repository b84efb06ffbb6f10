"""Femoral heads found without a click in osteoporotic bone, and the femur split from the hip
bone there (issue 23), on a synthetic pelvis with known heads.

Two femoral heads (radius 21 and 23 mm, 1.2 mm cortex of 600 HU around cancellous bone of
150 HU) sit in sockets (a 4 mm shell of 400 HU over the upper half, beyond a 2 mm joint space)
either side of the midline, each with a neck running down and laterally; 1.5 x 1.5 x 3 mm
voxels, blurred and noisy like the issue's real CT. Their edges are too weak for the sphere
votes of :func:`hip_anatomy.find_heads`; :func:`hip_anatomy.find_heads_by_rays` must find
both (centre within 1.5 mm, radius within 1 mm: a 3 mm slice) and
:func:`hip_anatomy.split_femur_soft` must give each femur its head and neck and the sockets to
the hip bone.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation import hip_anatomy
from surgiplan.core.segmentation.bone_fill import smoothed, solid_bone
from surgiplan.core.segmentation.scan_axes import spacing_kji

SPACING = (1.5, 1.5, 3.0)  # x (i), y (j), z (k) mm


def _pelvis(seed: int = 0):
    """(Volume, [(centre index k j i, radius mm)], [femur truth], socket truth) of the docstring."""
    sx, sy, sz = SPACING
    shape = (int(120 / sz), int(110 / sy), int(300 / sx))
    nk, nj, ni = shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    x, y, z = (i - ni / 2) * sx, (j - nj / 2) * sy, (k - nk / 2) * sz
    a = np.full(shape, 40.0)
    heads, femurs = [], []
    socket_all = np.zeros(shape, bool)
    for side, r, c in ((-1, 21.0, np.array([-88.3, -1.7, 4.1])), (1, 23.0, np.array([91.6, 2.2, 2.6]))):
        d = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
        u = np.array([0.6 * side, 0.0, -0.8])  # the neck: down and laterally
        t = (x - c[0]) * u[0] + (y - c[1]) * u[1] + (z - c[2]) * u[2]
        perp = np.sqrt(np.maximum(d**2 - t**2, 0))
        neck = (t > 0) & (t < 80) & (perp <= 0.65 * r)
        femur = (d <= r) | neck
        inner = (d <= r - 1.2) | ((t > 0) & (t < 79) & (perp <= 0.65 * r - 1.2))
        a[femur] = 600.0
        a[inner] = 150.0
        socket = (d >= r + 2.0) & (d <= r + 6.0) & (z - c[2] > -0.15 * r) & ~neck
        a[socket] = 400.0
        heads.append((np.array([c[2] / sz + nk / 2, c[1] / sy + nj / 2, c[0] / sx + ni / 2]), r))
        femurs.append(femur)
        socket_all |= socket
    a = ndimage.gaussian_filter(a, (1.2 / sz, 1.2 / sy, 1.2 / sx))
    a += np.random.default_rng(seed).normal(0.0, 12.0, shape)
    return Volume(np.round(a).astype(np.int16), SPACING, (0.0, 0.0, 0.0), np.eye(3)), heads, femurs, socket_all


def test_heads_found_by_rays_in_weak_bone_and_femurs_split_from_the_sockets():
    vol, truth, femurs, socket = _pelvis()
    sp = spacing_kji(vol)
    img = smoothed(vol, 0.6)
    mid = vol.array.shape[2] / 2
    assert hip_anatomy.find_heads(img, sp, midline_i=mid) == []  # the case this is for: no votes
    heads = sorted(hip_anatomy.find_heads_by_rays(img, sp, mid), key=lambda h: h.centre[2])
    assert len(heads) == 2
    for h, (c, r) in zip(heads, truth, strict=True):
        err = np.linalg.norm((np.asarray(h.centre) - c) * sp)
        print(f"centre error {err:.2f} mm, radius {h.radius_mm:.2f} mm (truth {r})")
        assert err <= 1.5, f"centre off by {err:.2f} mm"
        assert abs(h.radius_mm - r) <= 1.0, f"radius {h.radius_mm:.2f} mm, truth {r} mm"
    bone = solid_bone(vol, low=150.0, image=img, lids=True)
    fem, hip = hip_anatomy.split_femur_soft(np.asarray(vol.array), bone, sp, heads)
    for f, t in zip(fem, femurs, strict=True):
        dice = 2 * (f & t).sum() / (f.sum() + t.sum())
        print(f"femur Dice {dice:.3f}")
        assert dice >= 0.9, f"femur Dice {dice:.3f}"
    assert (hip & socket).sum() >= 0.9 * (bone & socket).sum()  # the sockets stay hip bone
    assert not (fem[0] & fem[1]).any() and not ((fem[0] | fem[1]) & hip).any()


def test_no_head_in_soft_tissue_or_a_solid_block():
    """Nothing round in a socket: no head, so the preset refuses with seed advice."""
    vol, *_ = _pelvis()
    sp = spacing_kji(vol)
    flat = smoothed(Volume(np.full(vol.array.shape, 40, np.int16), SPACING, (0.0, 0.0, 0.0), np.eye(3)), 0.6)
    assert hip_anatomy.find_heads_by_rays(flat, sp, flat.shape[2] / 2) == []
    block = np.full(vol.array.shape, 40.0, np.float32)
    block[5:30, 20:60, 10:190] = 300.0  # a brick of bone: deep points, no joint space around
    assert hip_anatomy.find_heads_by_rays(block, sp, block.shape[2] / 2) == []
