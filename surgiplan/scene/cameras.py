"""Camera framing of a 3D scene (LPS mm): the window's views and the report's renders alike."""

from __future__ import annotations

import numpy as np

from surgiplan.scene.scene3d import CAMERAS


def fit_camera(plotter, bounds, view: str = "anterior", aspect: float = 1.0, margin: float = 1.06) -> None:
    """Point ``plotter``'s camera from ``view`` (scene3d.CAMERAS) so that the box ``bounds``
    (xmin, xmax, ymin, ymax, zmin, zmax, LPS mm) just fills a viewport of width/height ``aspect``."""
    d, up = (np.asarray(v, float) for v in CAMERAS[view])
    right = np.cross(-d, up)
    b = np.asarray(bounds, float).reshape(3, 2)
    centre = b.mean(axis=1)
    corners = np.array([[x, y, z] for x in b[0] for y in b[1] for z in b[2]]) - centre
    half_w = np.abs(corners @ right).max() * margin
    half_h = np.abs(corners @ up).max() * margin
    depth = np.abs(corners @ d).max()
    t = np.tan(np.radians(plotter.camera.view_angle) / 2)
    dist = max(half_h / t, half_w / (t * max(aspect, 0.1)), 1.0) + depth
    plotter.camera_position = [tuple(centre + d * dist), tuple(centre), tuple(up)]
    plotter.reset_camera_clipping_range()


def _union_bounds(meshes) -> np.ndarray | None:
    bs = [np.asarray(m.bounds, float).reshape(3, 2) for m in meshes if m is not None and m.n_points]
    if not bs:
        return None
    return np.column_stack([np.min([b[:, 0] for b in bs], axis=0), np.max([b[:, 1] for b in bs], axis=0)])


def implant_region(implant_bounds, bone_bounds, pad_fraction: float = 0.2, min_pad_mm: float = 20.0):
    """The box to frame (3 x 2, LPS mm): the implants' bounds widened on each side by
    ``pad_fraction`` of their size (at least ``min_pad_mm``), so the bone around them shows;
    the bones' bounds when there is no implant."""
    if implant_bounds is None:
        return bone_bounds
    ib = np.asarray(implant_bounds, float).reshape(3, 2)
    pad = np.maximum((ib[:, 1] - ib[:, 0]) * pad_fraction, min_pad_mm)
    return np.column_stack([ib[:, 0] - pad, ib[:, 1] + pad])
