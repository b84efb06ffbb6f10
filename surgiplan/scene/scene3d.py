"""3D scene of a case on a pyvista Plotter: viewport look, volume rendering, surface
models, implants and standard cameras (LPS mm).

Volume rendering (the 3D view's start-up rendering included) uses the one preset
table of :mod:`surgiplan.scene.volume_rendering`; ``add_volume_rendering`` is that
module's function, importable from here as before.

No Qt here: the desktop window passes its pyvistaqt ``QtInteractor`` (a Plotter),
reports pass an off-screen Plotter.
"""

from __future__ import annotations

import numpy as np

from surgiplan.scene.volume_rendering import add_volume_rendering  # noqa: F401 - start-up rendering

#: Camera directions (from the target towards the camera, LPS) and view-up vectors.
CAMERAS = {
    "anterior": ((0, -1, 0), (0, 0, 1)),
    "posterior": ((0, 1, 0), (0, 0, 1)),
    "left": ((1, 0, 0), (0, 0, 1)),
    "right": ((-1, 0, 0), (0, 0, 1)),
    "superior": ((0, 0, 1), (0, -1, 0)),
    "inferior": ((0, 0, -1), (0, -1, 0)),
}

BONE_COLOR = (0.93, 0.89, 0.80)
IMPLANT_COLOR = (0.72, 0.76, 0.82)


def setup_viewport(plotter) -> None:
    """Dark gradient background (both themes), soft three-point light, LPS orientation marker."""
    plotter.set_background("#2b3038", top="#0d0f12")
    plotter.add_axes(xlabel="L", ylabel="P", zlabel="S", line_width=2, labels_off=False)


def add_surface(plotter, mesh, name: str, color=BONE_COLOR, opacity: float = 1.0, **kw):
    """Add a surface model (PolyData, LPS mm) with a matte, clinical look.

    Does not render (``render=True`` in ``kw`` does): callers that add several surfaces
    render once at the end; on a 200k-triangle scene under software OpenGL every render
    costs about 0.3 s.
    """
    kw.setdefault("render", False)
    return plotter.add_mesh(mesh, name=name, color=color, opacity=opacity, smooth_shading=True,
                            specular=0.25, specular_power=20, ambient=0.12, diffuse=0.85,
                            reset_camera=False, **kw)


def set_camera(plotter, view: str = "anterior", bounds=None, zoom: float = 1.0) -> None:
    """Point the camera at ``bounds`` (or everything) from a standard anatomical direction."""
    d, up = CAMERAS[view]
    b = np.asarray(bounds if bounds is not None else plotter.bounds, dtype=float).reshape(3, 2)
    center = b.mean(axis=1)
    radius = max(float(np.linalg.norm(b[:, 1] - b[:, 0])) / 2, 1.0)
    pos = center + np.asarray(d, dtype=float) * radius * 3.2
    plotter.camera_position = [tuple(pos), tuple(center), tuple(up)]
    plotter.reset_camera_clipping_range()
    plotter.camera.zoom(zoom)


def cut_plane_mesh(origin, normal, size_mm: float, centre=None):
    """A square (``size_mm`` wide) of the plane through ``origin`` with ``normal`` (LPS mm),
    centred on the projection of ``centre`` (e.g. the bone's centre) onto the plane."""
    import pyvista as pv

    o = np.asarray(origin, float)
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    c = o if centre is None else np.asarray(centre, float) - ((np.asarray(centre, float) - o) @ n) * n
    return pv.Plane(center=c, direction=n, i_size=size_mm, j_size=size_mm, i_resolution=1, j_resolution=1)


def landmark_glyphs(positions, radius_mm: float = 3.0):
    """Small spheres at ``positions`` (N x 3, LPS mm) merged into one PolyData."""
    import pyvista as pv

    pts = np.asarray(positions, float).reshape(-1, 3)
    ball = pv.Sphere(radius=radius_mm, theta_resolution=16, phi_resolution=12)
    return pv.PolyData(pts).glyph(geom=ball, scale=False, orient=False)
