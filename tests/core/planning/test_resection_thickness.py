"""Resected thickness from the bone's vertices (no clipping) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import GeometryError
from surgiplan.core.planning.resection import resection_thickness


def test_thickness_is_the_farthest_vertex_beyond_the_plane():
    # kept side +z: vertices below z = 0 are removed
    pts = np.array([[0, 0, 5.0], [-20, 0, -3.0], [20, 0, -7.5], [2, 0, -12.0], [-30, 4, -1.0]])
    t = resection_thickness(pts, (0, 0, 0), (0, 0, 2.0))  # normal need not be unit
    assert t.thickness_mm == pytest.approx(12.0) and t.by_half_mm == {}
    # halves split at x = 0, 5 mm either side left out: the notch vertex at x = 2 counts in neither
    t = resection_thickness(pts, (0, 0, 0), (0, 0, 1), split_origin=(0, 0, 0), split_normal=(1, 0, 0),
                            half_names=("lat", "med"), exclude_central_mm=5.0)
    assert t.by_half_mm == pytest.approx({"lat": 7.5, "med": 3.0})
    # tilted plane: signed distance along the unit normal
    n = np.array([0.0, np.sin(0.2), np.cos(0.2)])
    t = resection_thickness(pts, (0, 0, 0), n)
    assert t.thickness_mm == pytest.approx(max(-(pts @ n)))


def test_nothing_removed_and_bad_normal():
    pts = np.array([[0, 0, 1.0], [5, 0, 2.0]])
    t = resection_thickness(pts, (0, 0, 0), (0, 0, 1), split_origin=(0, 0, 0), split_normal=(1, 0, 0))
    assert t.thickness_mm == 0.0 and t.by_half_mm == {"positive": 0.0, "negative": 0.0}
    assert resection_thickness(np.empty((0, 3)), (0, 0, 0), (0, 0, 1)).thickness_mm == 0.0
    with pytest.raises(GeometryError, match="resection normal"):
        resection_thickness(pts, (0, 0, 0), (0, 0, 0))
