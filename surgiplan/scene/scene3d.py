"""3D scene of a case on a pyvista Plotter: viewport look, volume rendering presets,
surface models, implants and standard cameras (LPS mm).

No Qt here: the desktop window passes its pyvistaqt ``QtInteractor`` (a Plotter),
reports pass an off-screen Plotter.
"""

from __future__ import annotations

import numpy as np

#: Volume-rendering presets for CT: (HU, opacity) and (HU, colour) control points.
VOLUME_PRESETS: dict[str, dict] = {
    "bone": {
        "opacity": [(-1000, 0.0), (150, 0.0), (300, 0.25), (700, 0.7), (2000, 0.9)],
        "color": [(150, (0.55, 0.25, 0.15)), (300, (0.9, 0.78, 0.62)), (1000, (1.0, 0.98, 0.92))],
    },
    "soft tissue": {
        "opacity": [(-1000, 0.0), (-200, 0.0), (-50, 0.08), (100, 0.15), (300, 0.5), (1500, 0.8)],
        "color": [(-200, (0.7, 0.4, 0.3)), (80, (0.85, 0.55, 0.45)), (300, (0.95, 0.9, 0.8))],
    },
    "vessel": {
        "opacity": [(-1000, 0.0), (120, 0.0), (200, 0.45), (500, 0.7), (2000, 0.8)],
        "color": [(120, (0.6, 0.05, 0.05)), (250, (0.9, 0.2, 0.15)), (600, (1.0, 0.9, 0.85))],
    },
}

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


def image_data(volume, max_dim: int = 256):
    """A pyvista ImageData of ``volume`` (LPS geometry kept), subsampled so no side exceeds ``max_dim``."""
    import pyvista as pv

    step = max(1, int(np.ceil(max(volume.array.shape) / max_dim)))
    arr = np.asarray(volume.array)[::step, ::step, ::step]
    img = pv.ImageData(dimensions=arr.shape[::-1], spacing=tuple(s * step for s in volume.spacing),
                       origin=volume.origin)
    img.direction_matrix = np.asarray(volume.direction)
    img.point_data["values"] = np.ascontiguousarray(arr).ravel(order="C")
    return img


def add_volume_rendering(plotter, volume, preset: str = "bone", name: str = "volume"):
    """Volume-render ``volume`` with a CT preset (VTK smart mapper, HU transfer functions)."""
    import vtk

    p = VOLUME_PRESETS[preset]
    img = image_data(volume)
    img.point_data["values"] = img["values"].astype(np.float32)
    mapper = vtk.vtkSmartVolumeMapper()
    mapper.SetInputData(img)
    mapper.SetBlendModeToComposite()
    otf = vtk.vtkPiecewiseFunction()
    for x, a in p["opacity"]:
        otf.AddPoint(x, a)
    ctf = vtk.vtkColorTransferFunction()
    for x, c in p["color"]:
        ctf.AddRGBPoint(x, *c)
    prop = vtk.vtkVolumeProperty()
    prop.SetScalarOpacity(otf)
    prop.SetColor(ctf)
    prop.SetInterpolationTypeToLinear()
    prop.ShadeOn()
    prop.SetAmbient(0.25)
    prop.SetDiffuse(0.8)
    prop.SetSpecular(0.2)
    prop.SetScalarOpacityUnitDistance(min(volume.spacing) * 2)
    actor = vtk.vtkVolume()
    actor.SetMapper(mapper)
    actor.SetProperty(prop)
    plotter.remove_actor(name, render=False)
    plotter.add_actor(actor, name=name, reset_camera=False, render=False)
    return actor


def add_surface(plotter, mesh, name: str, color=BONE_COLOR, opacity: float = 1.0, **kw):
    """Add a surface model (PolyData, LPS mm) with a matte, clinical look."""
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
