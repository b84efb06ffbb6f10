"""The femoral head's radius and joint shell when the socket's own cortex is the stronger sphere, and the
acetabular fossa kept out of the hip bone (issue 23; :mod:`hip_anatomy`).

Analytic hip: a femoral head (cancellous bone in a cortex) in a socket (cortex over the pelvis's cancellous
bone, then the pelvis's inner cortex), a narrow joint space blurred by the scanner. The truth is the sphere
drawn. Before the fix, :func:`hip_anatomy.surface_radius` returned the socket's sphere (radius + gap + cortex:
the phantoms' femur then took the socket) and :func:`hip_anatomy.joint_radius` the pelvis's cancellous bone
behind the socket (darker than a blurred joint space: the femur stopped at its head).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.segmentation.hip_anatomy import Head, drop_joint_fat, joint_radius, surface_radius

SP = np.array([0.75, 0.75, 0.75])  # mm
N = 88
CENTRE = np.array([44.0, 44.0, 44.0])  # index
R, GAP, CORTEX = 20.0, 1.2, 2.5  # mm


def _distance_mm() -> np.ndarray:
    kk, jj, ii = np.indices((N, N, N))
    return np.sqrt(((kk - CENTRE[0]) * SP[0]) ** 2 + ((jj - CENTRE[1]) * SP[1]) ** 2 + ((ii - CENTRE[2]) * SP[2]) ** 2)


def _hip_ct() -> np.ndarray:
    """CT (HU) of the analytic hip, blurred by a 0.8 mm Gaussian (a narrow joint space stays ~300 HU brighter
    than fat at its middle)."""
    d = _distance_mm()
    kk = np.indices((N, N, N))[0]
    ct = np.full(d.shape, 40.0)  # muscle
    ct[d <= R] = 1000.0  # head cortex
    ct[d <= R - CORTEX] = 250.0  # head cancellous bone
    top = kk >= CENTRE[0] - 6  # the socket covers the head's upper part
    s0 = R + GAP
    ct[top & (d > R) & (d <= s0)] = -80.0  # the joint space (fat-like)
    ct[top & (d > s0) & (d <= s0 + CORTEX)] = 1100.0  # the socket's cortex
    ct[top & (d > s0 + CORTEX) & (d <= s0 + CORTEX + 8.0)] = 180.0  # the pelvis's cancellous bone
    ct[top & (d > s0 + CORTEX + 8.0) & (d <= s0 + 2 * CORTEX + 8.0)] = 900.0  # its inner cortex
    return ndimage.gaussian_filter(ct, 0.8 / SP[0])


def test_head_radius_is_the_innermost_joint_not_the_socket_sphere():
    ct = _hip_ct()
    # started from the socket's sphere (as the votes sometimes are) and from the head's own radius
    for guess in (R + GAP + CORTEX, R):
        r = surface_radius(ct, SP, CENTRE, guess)
        assert r is not None and abs(r - R) <= 0.5, (guess, r)


def test_joint_shell_is_the_dip_next_to_the_head():
    ct = _hip_ct()
    rj = joint_radius(ct, SP, Head(tuple(CENTRE), R, R, 1.0), 300.0)
    assert R - 0.5 <= rj <= R + GAP + 0.75, rj  # not the pelvis's cancellous bone at R + 4..12 mm


def test_fossa_fat_leaves_the_hip_bone_its_cancellous_bone_stays():
    d = _distance_mm()
    kk, _jj, ii = np.indices((N, N, N))
    # a socket over the head's medial half (low i), open laterally and at its inferior notch, as an
    # acetabulum is: no axial, coronal or sagittal slice of it encloses the fossa
    cup = (ii <= CENTRE[2]) & (kk >= CENTRE[0] - 4)
    femur = d <= R
    fossa = cup & (d > R) & (d <= R + 3.0)  # fat between head and socket, handed to the hip bone by a fill
    shell = (d > R + 3.0) & (d <= R + 13.0)
    rim = (ii == CENTRE[2]) | (kk == CENTRE[0] - 4)
    cortex = cup & shell & ((d <= R + 5.0) | (d > R + 11.0) | rim)  # subchondral + inner cortex, closed at the rim
    cancellous = cup & shell & ~cortex  # below the threshold, enclosed by its own cortex
    raw = cortex | femur  # what the threshold sees
    hip = fossa | cortex | cancellous
    out = drop_joint_fat(hip, raw, [femur], lids=False)
    assert not (out & fossa).any(), int((out & fossa).sum())
    assert (out & cancellous).sum() == cancellous.sum() and (out & cortex).sum() == cortex.sum()
    # nothing to drop without a femur next to it
    assert (drop_joint_fat(hip, raw, [np.zeros_like(femur)], lids=False) == hip).all()
