"""Analytic bone shapes for planning tests (closed surfaces from signed distance functions)."""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning.catalog.mesh_builders import sdf_contour


def _capsule(p, a, b, r):
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0, 1)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - r


HEAD = np.array([80.0, 0.0, 0.0])  # left femoral head centre, LPS mm
HEAD_R = 23.0
CANAL_DIR = np.array([0.0, 0.0, 1.0])
CANAL_POINT = np.array([120.0, 0.0, -100.0])  # femoral offset = 40 mm
NECK_BASE = np.array([120.0, 0.0, -40.0])


def femur(spacing: float = 1.0):
    """Left proximal femur: head sphere, neck capsule, shaft capsule (axis x = 120, y = 0)."""

    def sdf(x, y, z):
        p = np.column_stack([x, y, z])
        head = np.linalg.norm(p - HEAD, axis=1) - HEAD_R
        neck = _capsule(p, NECK_BASE, HEAD, 13.0)
        shaft = _capsule(p, np.array([120.0, 0, -200]), np.array([120.0, 0, -30]), 15.0)
        return np.minimum(np.minimum(head, neck), shaft)

    return sdf_contour(sdf, (50, 140, -30, 30, -215, 30), spacing)


def pelvis_block(spacing: float = 1.0):
    """A block of 'pelvis' above/medial to the head with a hemispherical socket of radius 25 mm."""

    def sdf(x, y, z):
        p = np.column_stack([x, y, z])
        c = np.array([65.0, 0, 20])
        half = np.array([40.0, 35, 30])
        q = np.abs(p - c) - half
        box = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(1), 0)
        socket = -(np.linalg.norm(p - HEAD, axis=1) - 25.0)
        return np.maximum(box, socket)

    return sdf_contour(sdf, (20, 110, -40, 40, -15, 55), spacing)


PELVIS_LANDMARKS = {
    "asis_left": (120.0, -60.0, 60.0),
    "asis_right": (-120.0, -60.0, 60.0),
    "pubic_tubercle_left": (20.0, -60.0, -40.0),
    "pubic_tubercle_right": (-20.0, -60.0, -40.0),
    "teardrop_left": (50.0, -10.0, -20.0),
    "teardrop_right": (-50.0, -10.0, -20.0),
    "lesser_trochanter_left": (110.0, 5.0, -60.0),
    "lesser_trochanter_right": (-110.0, 5.0, -60.0),
    "acetabular_centre_left": tuple(HEAD),
    "femoral_head_centre_left": tuple(HEAD),
    "acetabular_centre_right": (-80.0, 0.0, 0.0),
    "femoral_head_centre_right": (-80.0, 0.0, 0.0),
}
