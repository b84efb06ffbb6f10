"""Trimmed point-to-plane ICP against a known pose: a cup and a screw whose surfaces are half
missing, with outliers and a second object (a head) nearby, are recovered exactly."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import GeometryError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.twin.icp import icp, sample_surface


@pytest.mark.parametrize("implant, size", [("hip_cup", "52"), ("spine_pedicle_screw", "6.5x45")])
def test_partial_surface_with_outliers_gives_the_known_pose(implant, size):
    g = load_catalog(include_user=False).get(implant).geometry(size)
    model, normals = sample_surface(g.merged(), 0.5)
    truth = tf.translation([12.0, -30.0, 40.0]) @ tf.rotation([0.4, -0.7, 0.2], 25.0)
    rng = np.random.default_rng(3)
    surf, _ = sample_surface(g.merged(), 0.8, seed=7)
    # 40 % of the implant not scanned: the cup's dome, the screw's tip (a cup without its rim
    # would have no axis to find: a part of a sphere)
    surf = surf[surf[:, 2] > np.percentile(surf[:, 2], 40)] if implant == "hip_cup" else \
        surf[surf[:, 2] < np.percentile(surf[:, 2], 60)]
    surf = surf + rng.normal(0, 0.1, surf.shape)  # noise 0.1 mm
    lo, hi = surf.min(axis=0), surf.max(axis=0)
    outliers = rng.uniform(lo - 5, hi + 5, (len(surf) // 10, 3))  # streaks: 10 % stray points
    head = rng.normal(size=(800, 3))
    head = 9.0 * head / np.linalg.norm(head, axis=1, keepdims=True)  # a second metal object inside
    data = tf.apply(truth, np.vstack([surf, outliers, head]))
    start = tf.translation([1.5, -2.0, 1.0]) @ truth @ tf.rotation([1, 0, 0], 3.0)
    fit = icp(model, normals, data, start, fix_spin=True)
    assert fit.converged
    assert np.linalg.norm(fit.model_to_data[:3, 3] - truth[:3, 3]) < 0.1
    assert tf.angle_between_deg(fit.model_to_data[:3, 2], truth[:3, 2]) < 0.2


def test_too_few_points_is_an_error():
    g = load_catalog(include_user=False).get("hip_cup").geometry("52")
    model, normals = sample_surface(g.merged(), 1.0)
    with pytest.raises(GeometryError, match="metal surface points"):
        icp(model, normals, model[:5], np.eye(4))
    with pytest.raises(GeometryError, match="within"):
        icp(model, normals, model[:500] + 100.0, np.eye(4))
