"""Decimation keeps a closed surface closed when its folds leave pinched holes (issue 23: the TCIA trunk CT's
bone model decimated to 200 k triangles came out "NOT watertight: 96 boundary edges, 26 non-manifold
vertices").

Quadric collapse folds triangles onto each other; cutting them out leaves holes, and where two holes share a
vertex the numpy fan closure refused and vtkFillHolesFilter left them open. Noise blobs (a marching-cubes
surface of smoothed noise, the same kind of surface as a bone's) decimated to 2-5 % do this every time: before
the fix none of 24 such cases came out watertight and manifold."""

from __future__ import annotations

import fast_simplification
import numpy as np
import pytest
import pyvista as pv
from scipy import ndimage

from surgiplan.core.surfaces.decimate import decimate
from surgiplan.core.surfaces.mesh import signed_volume, triangles
from surgiplan.core.surfaces.repair import fix_non_manifold, repair, watertight_report


def _blob(seed: int):
    img = ndimage.gaussian_filter(np.random.default_rng(seed).random((60, 60, 60)), 3)
    grid = pv.ImageData(dimensions=img.shape)
    grid.point_data["v"] = img.ravel(order="F")
    return repair(grid.contour([float(np.quantile(img, 0.6))]).triangulate().clean(), largest_component=False)


@pytest.mark.parametrize("seed", [0, 5, 8])
@pytest.mark.parametrize("fraction", [0.05, 0.03])
def test_decimated_blob_is_watertight_and_manifold(seed, fraction):
    surf = _blob(seed)
    assert watertight_report(surf).watertight and watertight_report(surf).manifold
    n = int(surf.n_cells * fraction)
    raw = pv.PolyData.from_regular_faces(*fast_simplification.simplify(
        np.asarray(surf.points, np.float64), triangles(surf), target_count=n, agg=7.0))
    assert not watertight_report(raw).manifold  # the folds this test is about
    rep = watertight_report(decimate(surf, n))
    assert rep.watertight and rep.manifold, rep.summary()
    assert rep.n_triangles <= n
    if seed != 8:  # seed 8: 19 small pieces whose volume the collapse itself moves by 20-40 %
        # the repair cuts a few rings of triangles around each pinch and closes the holes: little volume moves
        assert abs(rep.volume_mm3 - signed_volume(raw)) <= 0.06 * abs(signed_volume(raw))


def test_two_holes_meeting_at_a_vertex_are_closed():
    """Two triangles of one vertex's fan that share only that vertex, each doubled: both are cut, which leaves
    two holes pinched at the vertex; the result is closed, manifold and the same sphere."""
    s = pv.Icosphere(radius=10, nsub=3)
    f = triangles(s)
    fan = np.flatnonzero((f == 5).any(axis=1))
    other = next(t for t in fan[1:] if len(set(f[t]) & set(f[fan[0]])) == 1)
    doubled = pv.PolyData.from_regular_faces(np.asarray(s.points, float), np.concatenate([f, f[[fan[0], other]]]))
    rep = watertight_report(fix_non_manifold(doubled))
    assert rep.watertight and rep.manifold, rep.summary()
    assert rep.volume_mm3 == pytest.approx(watertight_report(s).volume_mm3, rel=0.01)
