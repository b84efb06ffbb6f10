"""repair._bad_faces (the decimation's non-manifold check) finds edges of 3+ triangles from one sort of
the edge keys instead of an argsort (issue 23, speed): the same triangles as the argsort version it
replaced, on random triangle soups with duplicates, fans and degenerate triangles, and on a closed
sphere (nothing bad)."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from surgiplan.core.surfaces.mesh import triangles
from surgiplan.core.surfaces.repair import _bad_faces


def _reference(f: np.ndarray) -> np.ndarray:
    bad = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
    a = np.concatenate([f[:, 0], f[:, 1], f[:, 2]]).astype(np.int64)
    b = np.concatenate([f[:, 1], f[:, 2], f[:, 0]]).astype(np.int64)
    keys = np.minimum(a, b) * (int(f.max()) + 1) + np.maximum(a, b)
    order = np.argsort(keys)
    ks = keys[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ks)) + 1])
    runs = np.diff(np.concatenate([starts, [len(ks)]]))
    nm = np.zeros(len(keys), bool)
    nm[order] = np.repeat(runs > 2, runs)
    return bad | nm.reshape(3, -1).any(axis=0)


def test_same_triangles_as_the_argsort_version():
    rng = np.random.default_rng(11)
    n_bad = 0
    for trial in range(30):
        nv = int(rng.integers(4, 40))
        f = rng.integers(0, nv, (int(rng.integers(1, 120)), 3))
        if trial % 3 == 0:
            f = np.concatenate([f, f[: len(f) // 4]])  # duplicated triangles
        got, ref = _bad_faces(f), _reference(f)
        assert np.array_equal(got, ref), trial
        n_bad += int(ref.sum())
    assert n_bad > 0


def test_closed_sphere_has_none_and_a_fin_is_found():
    f = triangles(pv.Sphere(theta_resolution=12, phi_resolution=12).clean())
    assert not _bad_faces(f).any()
    e = f[0]
    fin = np.concatenate([f, [[e[0], e[1], f.max() + 1]]])  # a third triangle on one edge
    got = _bad_faces(fin)
    assert np.array_equal(got, _reference(fin)) and got[-1] and got.sum() == 3
