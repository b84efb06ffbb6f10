"""The femoral head's radius by the blurred layer model (:mod:`head_radius`), not the half-way level
(issue 23: radius within 0.5 mm), and the joint space it measures left out of both bones.

Where the joint space is narrower than about twice the blur, the dip between the head's and the socket's
cortices is shallow and wider than the gap: the radius where the CT falls half-way from the cortex peak to
the dip lies inside the head. Before the layer model, :func:`hip_anatomy.find_heads` returned that radius:
0.6 mm small on phantom seed 1021 (joint 1.16 mm, slices 2.57 mm) and 1048 (joint 1.24 mm), and an analytic
hip with a 1.0 mm joint blurred by 1.1 mm reads 0.56 mm small.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.segmentation.head_radius import fit_layers, joint_shell, layered_radius, soft_tissue_hu
from surgiplan.core.segmentation.hip_anatomy import surface_radius

SP = np.array([0.8, 0.8, 0.8])  # mm
N = 80
CENTRE = np.array([40.0, 40.0, 40.0])  # index
R, CORTEX, MUSCLE = 20.0, 3.0, 45.0  # mm, mm, HU


def _hip_ct(gap: float, blur_mm: float, noise_hu: float = 10.0) -> np.ndarray:
    """CT (HU) of an analytic hip: cancellous head in its cortex, a joint space of ``gap`` mm at muscle's
    value, the socket's cortex and the pelvis's cancellous bone over the head's upper part, muscle
    elsewhere; painted on a 4x finer grid and averaged down (partial volume), blurred, with noise."""
    f = 4
    n = N * f
    ax = (np.arange(n) + 0.5) / f - 0.5  # fine voxel centres in coarse index units
    kk, jj, ii = np.meshgrid(ax, ax, ax, indexing="ij", sparse=True)
    d = np.sqrt(((kk - CENTRE[0]) * SP[0]) ** 2 + ((jj - CENTRE[1]) * SP[1]) ** 2 + ((ii - CENTRE[2]) * SP[2]) ** 2)
    top = np.broadcast_to(kk >= CENTRE[0] - 5, d.shape)
    ct = np.full(d.shape, MUSCLE, np.float32)
    ct[d <= R] = 1200.0
    ct[d <= R - CORTEX] = 250.0
    s0 = R + gap
    ct[top & (d > s0) & (d <= s0 + CORTEX)] = 1200.0
    ct[top & (d > s0 + CORTEX) & (d <= s0 + CORTEX + 10.0)] = 200.0
    ct = ct.reshape(N, f, N, f, N, f).mean(axis=(1, 3, 5))
    ct = ndimage.gaussian_filter(ct, blur_mm / SP[0])
    return ct + np.random.default_rng(3).normal(0.0, noise_hu, ct.shape).astype(np.float32)


@pytest.mark.parametrize("gap", [1.0, 1.4, 2.5])
def test_layer_model_radius_on_an_analytic_hip(gap):
    ct = _hip_ct(gap, 1.1)
    half = surface_radius(ct, SP, CENTRE, R)
    fit = layered_radius(ct, SP, CENTRE, R)
    assert fit is not None and abs(fit - R) <= 0.2, (gap, half, fit)
    if gap <= 1.0:  # what the half-way level reads: the old radius, off by more than the target
        assert half is not None and half - R < -0.5, half


def test_soft_tissue_value_around_the_head():
    ct = _hip_ct(2.0, 1.0)
    assert abs(soft_tissue_hu(ct, SP, CENTRE, R) - MUSCLE) <= 10.0


@pytest.mark.parametrize("seed", [1021])
def test_phantom_heads_that_read_small(seed):
    """A phantom that missed the 0.5 mm target by the half-way radius alone (-0.63 mm; 1048, -0.60 mm, too:
    its 1.2 mm slices make a 25 s test)."""
    from surgiplan.core.samples.ct_phantom import make_ct_phantom
    from surgiplan.core.segmentation import hip_anatomy
    from surgiplan.core.segmentation.bone_fill import smoothed
    from surgiplan.core.segmentation.scan_axes import spacing_kji

    vol, truth = make_ct_phantom(seed)
    img = smoothed(vol, 0.6)
    sp = spacing_kji(vol)
    heads = hip_anatomy.find_heads(img, sp)
    (femur, c), = truth["femoral_head_centre_lps"].items()
    r_true = truth["femoral_head_radius_mm"][femur]
    found = [np.linalg.norm(vol.index_to_world(np.array([h.centre[::-1]]))[0] - np.array(c)) for h in heads]
    h = heads[int(np.argmin(found))]
    assert min(found) <= 1.0
    assert abs(h.radius_mm - r_true) <= 0.3, (h.radius_mm, r_true)
    assert surface_radius(img, sp, h.centre, h.radius_mm) - r_true < -0.5  # the half-way level alone


def test_joint_shell_is_the_gap_not_the_bones():
    """The voxels handed to neither bone lie between the head's surface and the socket's (truth: the sphere
    drawn and the gap), and they are most of the gap on the socket's side."""
    gap = 1.2
    ct = _hip_ct(gap, 1.1)
    fit = fit_layers(ct, SP, CENTRE, R)
    assert fit is not None and abs(fit.gap_mm - gap) <= 0.4, fit
    shell = joint_shell(ct.shape, SP, CENTRE, fit, img=ct)
    kk, jj, ii = np.indices(ct.shape)
    d = np.sqrt(((kk - CENTRE[0]) * SP[0]) ** 2 + ((jj - CENTRE[1]) * SP[1]) ** 2 + ((ii - CENTRE[2]) * SP[2]) ** 2)
    assert d[shell].min() >= R - 0.3 and d[shell].max() <= R + gap + 0.3, (d[shell].min(), d[shell].max())
    truth_gap = (d > R) & (d < R + gap) & (kk >= CENTRE[0] - 2)  # the socket's side, off its rim
    assert (shell & truth_gap).sum() >= 0.7 * truth_gap.sum(), ((shell & truth_gap).sum(), truth_gap.sum())
    # no socket below its rim (k = centre - 5): nothing beyond one ray spacing (0.2 rad, 4 mm at R) of it
    assert not (shell & (kk < CENTRE[0] - 5 - 4.0 / SP[0] - 1)).any()


@pytest.mark.parametrize("seed", [1010, 1058])
def test_phantom_joint_space_left_out_of_both_bones(seed):
    """Phantom seed 1010 (joint 2.07 mm, 1.52 mm slices): the femur took its half of the blurred joint space,
    +8.8 % in volume (Dice 0.956) at bd862d5. Seed 1058 (joint 1.32 mm, 2.83 mm slices): the femur took part of
    the acetabulum's roof, +16.7 % (Dice 0.914). Both bones within 5 % of the analytic truth's volume now."""
    from surgiplan.core.samples.ct_phantom import make_ct_phantom
    from surgiplan.core.segmentation.presets import apply_preset

    vol, truth = make_ct_phantom(seed)
    seg = apply_preset(vol, "hip-bones")
    for name, gt in truth["masks"].items():
        ours = seg.mask(name)
        dice = 2 * (ours & gt).sum() / (ours.sum() + gt.sum())
        err = 100 * (ours.sum() * vol.voxel_volume_mm3 / truth["volume_mm3"][name] - 1)
        assert dice >= 0.95 and abs(err) <= 5.0, (name, dice, err)
