"""A femoral head whose voted centre an iliac screw pulled off is refitted by rays
(:func:`hip_anatomy.refine_near_metal`, issue 23; CT phantom 5 of benchmarks/eval_hip_phantoms.py:
4.45 -> 0.04 mm). Analytic head in its socket: the truth is the sphere drawn."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.segmentation.hip_anatomy import Head, refine_near_metal

SP = np.array([1.5, 1.5, 1.5])
CENTRE = np.array([30.0, 30.0, 30.0])  # index
R = 22.0  # mm


def _hip_ct():
    kk, jj, ii = np.indices((60, 60, 60))
    d = np.sqrt(((kk - CENTRE[0]) * SP[0]) ** 2 + ((jj - CENTRE[1]) * SP[1]) ** 2 + ((ii - CENTRE[2]) * SP[2]) ** 2)
    ct = np.full(d.shape, 40.0)  # muscle
    ct[d <= R] = 250.0  # cancellous
    ct[(d <= R) & (d > R - 2.0)] = 1000.0  # cortex
    socket = (d >= R + 2.0) & (d <= R + 8.0) & (kk >= CENTRE[0] - 3)  # the joint space 2 mm, then the socket
    ct[socket] = 700.0
    screw = (np.abs(ii - 46) <= 1) & (np.abs(jj - 30) <= 1) & (kk >= 46) & (kk <= 58)  # in the socket's roof
    ct[screw] = 5000.0
    ct = ndimage.gaussian_filter(ct, 0.8)
    return ct, ndimage.binary_dilation(ct >= 2500.0, iterations=2)


def test_a_head_pulled_off_by_a_screw_is_refitted():
    ct, near = _hip_ct()
    off = Head(tuple(CENTRE + np.array([2.0, 0.0, -1.5])), R + 0.5, R + 0.5, 1.0)  # 3.75 mm off
    fit = refine_near_metal(ct, SP, off, near)
    err = np.linalg.norm((np.asarray(fit.centre) - CENTRE) * SP)
    assert err <= 1.0, f"centre {err:.2f} mm off"
    assert abs(fit.radius_mm - R) <= 1.0


def test_no_metal_near_or_an_implausible_refit_leaves_the_head_alone():
    ct, near = _hip_ct()
    off = Head(tuple(CENTRE + np.array([2.0, 0.0, -1.5])), R + 0.5, R + 0.5, 1.0)
    assert refine_near_metal(ct, SP, off, np.zeros(ct.shape, bool)) == off  # no metal at all
    far = np.zeros(ct.shape, bool)
    far[0, 0, 0] = True  # metal 60 mm away: not near the head
    assert refine_near_metal(ct, SP, off, far, reach_mm=5.0) == off
    # a voted radius far from the rays' (here 8 mm): the refit is not trusted
    wrong = Head(off.centre, R + 8.0, R + 8.0, 1.0)
    assert refine_near_metal(ct, SP, wrong, near) == wrong
