"""The bone preset's partial-volume surface, fast paths (issue 23, speed): each against a plain reference.

* box dilations by doubling shifts (bool and bit-packed) against scipy's binary dilation;
* ``_smoothed_at`` (27 neighbours from shifted views, clipped on the faces) against scipy's Gaussian;
* ``open_joint_spaces`` (one side's cortex first, gathers from shifted views, a margin only where the
  grid ends) against the definition in its docstring evaluated on every voxel at once;
* ``partial_volume_bone`` on the rough bone's box against its steps run on the whole grid.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation import islands
from surgiplan.core.segmentation.partial_volume import (
    _DIRECTIONS,
    _box_dilate,
    _fill,
    _pack,
    _pdilate,
    _smooth_near,
    _smoothed_at,
    _steps,
    _unpack,
    open_joint_spaces,
    partial_volume_bone,
    refine_band,
)


def test_doubling_steps_cover_the_segment():
    for r in range(0, 200):
        for most in (63, 1 << 30):
            s = _steps(r, most)
            assert sum(s) == r and all(0 < d <= most for d in s)
            assert all(d <= sum(s[:i]) + 1 for i, d in enumerate(s))  # no gap in the dilated segment


def test_box_dilation_matches_scipy():
    rng = np.random.default_rng(5)
    for _ in range(25):
        shape = tuple(int(n) for n in rng.integers(1, 90, 3))
        m = rng.random(shape) < rng.choice([0.002, 0.02, 0.2])
        r = [int(x) for x in rng.integers(0, 12, 2)] + [int(rng.integers(0, 80))]
        ref = m
        for ax in range(3):  # a box is the product of three segments
            line = np.ones([2 * r[a] + 1 if a == ax else 1 for a in range(3)], bool)
            ref = ndimage.binary_dilation(ref, line) if ref.any() else ref
        assert np.array_equal(_box_dilate(m, r), ref), (shape, r)
        assert np.array_equal(_unpack(_pdilate(_pack(m), r, shape[2]), shape[2]), ref), (shape, r)


def test_smoothed_at_matches_gaussian_filter():
    rng = np.random.default_rng(6)
    for shape in ((1, 7, 9), (5, 6, 70), (12, 13, 14)):
        a = rng.integers(-1000, 2500, shape).astype(np.int16)
        sig = tuple(float(s) for s in rng.uniform(0.3, 1.2, 3))
        ref = ndimage.gaussian_filter(a.astype(np.float64), sig, mode="nearest", radius=1)
        idx = np.flatnonzero(rng.random(shape) < 0.5)  # faces and inside
        np.testing.assert_allclose(_smoothed_at(a, idx, sig), ref.ravel()[idx], atol=0.02)


def test_smooth_near_is_the_gaussian_near_the_mask():
    rng = np.random.default_rng(9)
    a = rng.integers(-1000, 2000, (150, 60, 70)).astype(np.int16)
    m = np.zeros(a.shape, bool)
    m[3:40, 5:9, 60:66] = True  # a thin rod at one end, a blob at the other: slabs pay
    m[120:150, 40:50, 0:6] = True
    sig, margin = (0.8, 1.1, 0.6), (3, 2, 4)
    ref = ndimage.gaussian_filter(a, sig, mode="nearest", output=np.float32)
    out = np.full(a.shape, np.nan, np.float32)
    _smooth_near(a, m, sig, margin, out, slab=16)
    near = ndimage.binary_dilation(m, np.ones([2 * r + 1 for r in margin], bool))
    assert np.array_equal(out[near], ref[near])  # the same values, bit for bit
    assert np.all((out[~near] == ref[~near]) | (out[~near] == -1000.0))
    assert (out == -1000.0).mean() > 0.5  # most of the array was not filtered
    full = np.full(a.shape, np.nan, np.float32)
    _smooth_near(a, np.ones(a.shape, bool), sig, margin, full)  # slabs would not pay: all of it
    assert np.array_equal(full, ref)


def _joints_reference(ct, bone, sp_ijk, wall_mm=3.0, behind_mm=3.0, wall_hu=600.0, soft_hu=50.0, smooth_mm=0.4):
    """The docstring of open_joint_spaces on every voxel at once (the grid's outside: dark, no bone)."""
    sp = tuple(float(s) for s in sp_ijk)[::-1]
    x = ndimage.gaussian_filter(ct.astype(np.float32), [smooth_mm / s for s in sp], mode="nearest")
    near = ndimage.binary_dilation(x >= wall_hu, np.ones([2 * int(round(wall_mm / s)) + 1 for s in sp], bool))
    cand = bone & near & (x <= soft_hu + 0.5 * (float(x.max()) - soft_hu))
    p = 40
    xp = np.pad(x, p, constant_values=-1000.0)
    mp = np.pad(bone, p)
    n = bone.shape

    def at(arr, d, t):
        return arr[tuple(slice(p + t * di, p + t * di + ni) for di, ni in zip(d, n, strict=True))]

    found = np.zeros(n, bool)
    for d in _DIRECTIONS:
        step = float(np.sqrt(sum((di * s) ** 2 for di, s in zip(d, sp, strict=True))))
        n_w = max(1, int(np.floor(wall_mm / step + 1e-6)))
        n_b = max(1, int(np.ceil(behind_mm / step - 1e-6)))
        ok = np.ones(n, bool)
        walls = []
        for sign in (1, -1):
            walls.append(np.max([at(xp, d, sign * t) for t in range(1, n_w + 1)], axis=0))
            for t in range(n_w + 1, n_w + n_b + 1):
                ok &= at(mp, d, sign * t)
        lo = np.minimum(*walls)
        found |= ok & (lo >= wall_hu) & (x <= soft_hu + 0.5 * (lo - soft_hu))
    hit = cand & found
    return islands.remove_small(hit, 20 * float(np.prod(sp)) * (1 - 1e-6), sp_ijk) if hit.any() else hit


def _two_bones(rng, shape, sp_ijk, gap_mm, cut_bottom):
    """Two blocks of cancellous bone in cortex, a joint space of ``gap_mm`` between them along i, blurred;
    ``cut_bottom``: they run out of the grid at k = 0."""
    nk, nj, ni = shape
    si, sj, sk = sp_ijk
    k, j, i = np.meshgrid(np.arange(nk) * sk, np.arange(nj) * sj, np.arange(ni) * si, indexing="ij")
    mid = ni * si / 2
    ct = np.full(shape, 40.0)
    k0 = -1.0 if cut_bottom else 6.0
    for side in (-1, 1):
        lo, hi = (mid + gap_mm / 2, mid + 14) if side > 0 else (mid - 14, mid - gap_mm / 2)
        outer = (i >= lo) & (i <= hi) & (j >= 6) & (j <= nj * sj - 6) & (k >= k0) & (k <= nk * sk - 6)
        inner = (i >= lo + 1.2) & (i <= hi - 1.2) & (j >= 7.2) & (j <= nj * sj - 7.2) & (k >= k0 + 1.2)
        inner &= k <= nk * sk - 7.2
        ct[outer] = 1300.0
        ct[inner] = 250.0
    ct = ndimage.gaussian_filter(ct, [0.8 / s for s in (sk, sj, si)]) + rng.normal(0, 12, shape)
    return np.round(ct).astype(np.int16)


@pytest.mark.parametrize(("sp_ijk", "cut_bottom"), [((0.6, 0.6, 1.0), False), ((0.7, 0.7, 0.7), True)])
def test_open_joint_spaces_matches_its_definition(sp_ijk, cut_bottom):
    rng = np.random.default_rng(7)
    ct = _two_bones(rng, (34, 40, 56), sp_ijk, 2.0, cut_bottom)
    bone = _fill(islands.remove_small(ct >= 200, 100.0, sp_ijk), False)
    ref = _joints_reference(ct, bone, sp_ijk)
    got = open_joint_spaces(ct, bone, sp_ijk, wall_mm=3.0)
    assert ref.sum() > 50  # the joint space is there to be found
    assert np.array_equal(got, ref)


@pytest.mark.parametrize(("cut_bottom", "per_slice", "joint_mm", "options"), [
    (False, False, 3.0, {}), (True, False, 0.0, {}), (True, True, 3.0, {"cap_mm": 1.0, "shell_mm": 2.0})])
def test_partial_volume_bone_on_its_box_as_on_the_whole_grid(cut_bottom, per_slice, joint_mm, options):
    sp = (0.7, 0.7, 0.9)
    ct = _two_bones(np.random.default_rng(8), (40, 44, 90), sp, 1.6, cut_bottom)  # 25 voxels either side in i
    vol = Volume(ct, sp)
    rough = _fill(islands.remove_small(ct >= 200, 1000.0, sp), False)
    ref = refine_band(ct, rough, sp, **options)
    if per_slice:
        from surgiplan.core.segmentation import morphology

        ref = morphology.fill_holes(ref, per_slice=True)
    if joint_mm > 0:
        ref &= ~open_joint_spaces(ct, ref, sp, wall_mm=joint_mm)
    got = partial_volume_bone(vol, 200.0, 1.0, fill_per_slice=per_slice, joint_mm=joint_mm, **options)
    assert (rough ^ ref).any()  # the surface moved and the joint opened: something to compare
    assert np.array_equal(got, ref)


def test_partial_volume_bone_says_what_is_missing():
    from surgiplan.core.errors import InputError

    ct = np.full((20, 30, 30), 40, np.int16)
    with pytest.raises(InputError, match="no voxel reaches 200 HU"):
        partial_volume_bone(Volume(ct, (1.0, 1.0, 1.0)))
    ct[10:12, 10:12, 10:12] = 900  # 8 uL of bone: under the 1 mL islands
    with pytest.raises(InputError, match="no bone of at least 1 mL"):
        partial_volume_bone(Volume(ct, (1.0, 1.0, 1.0)))
