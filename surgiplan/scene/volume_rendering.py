"""Volume-rendering presets for CT (HU) and the VTK volume that draws them.

Each preset gives control points of the scalar opacity and colour transfer
functions (HU), optionally a gradient-opacity ramp (HU per mm) and the blend mode:

* ``bone``: cortex and marrow as ivory surfaces, soft tissue invisible.
* ``soft tissue``: skin, fat/muscle borders and bone seen through each other.
  A gradient-opacity ramp keeps the boundaries only, so the image noise of
  homogeneous tissue does not fill the body with fog (Slicer's CT-Muscle idea).
* ``vessel``: CT angiography, contrast lumen (>= ~200 HU) red, bone pale; the
  enhancing kidneys and spleen (150-200 HU) stay out.
* ``mip``: maximum intensity projection, grey ramp over -100..1500 HU (the
  radiologist's overview of a CTA or of bone).

Under a software OpenGL (Mesa llvmpipe/softpipe, SwiftShader: remote desktops,
virtual machines, CI) VTK's GPU ray caster runs on the CPU through the GL
emulation and takes seconds per frame; there the volume is drawn by VTK's CPU
ray caster instead (about ten times faster, the same transfer functions, shading
and blend modes): see :func:`software_opengl` and :func:`add_volume_rendering`.

This is the one table of presets: the 3D view's start-up rendering
(:mod:`surgiplan.scene.scene3d`) and the View menu both use it.

No Qt here; the 3D view and reports pass a pyvista Plotter.
"""

from __future__ import annotations

import numpy as np

#: name -> preset (HU control points; gradient in HU/mm; blend "composite"/"maximum")
VOLUME_PRESETS: dict[str, dict] = {
    "bone": {
        "opacity": [(-1000, 0.0), (160, 0.0), (300, 0.3), (700, 0.75), (2000, 0.9)],
        "color": [(160, (0.55, 0.27, 0.17)), (300, (0.88, 0.76, 0.58)), (1000, (1.0, 0.97, 0.9))],
        "gradient": [(0, 0.0), (15, 0.6), (60, 1.0)],
    },
    "soft tissue": {
        "opacity": [(-1000, 0.0), (-500, 0.0), (-250, 0.12), (-60, 0.1), (40, 0.18), (120, 0.25),
                    (300, 0.5), (1000, 0.85)],
        "color": [(-500, (0.55, 0.33, 0.25)), (-100, (0.9, 0.72, 0.58)), (40, (0.78, 0.36, 0.30)),
                  (300, (0.95, 0.88, 0.75)), (1000, (1.0, 0.98, 0.94))],
        "gradient": [(0, 0.0), (25, 0.0), (100, 1.0)],
    },
    "vessel": {
        "opacity": [(-1000, 0.0), (190, 0.0), (260, 0.55), (600, 0.7), (2000, 0.85)],
        "color": [(190, (0.55, 0.05, 0.05)), (280, (0.85, 0.18, 0.14)), (500, (0.95, 0.55, 0.45)),
                  (900, (1.0, 0.95, 0.9))],
    },
    "mip": {
        "blend": "maximum",
        "opacity": [(-1000, 0.0), (-100, 0.0), (1500, 1.0)],
        "color": [(-100, (0.0, 0.0, 0.0)), (1500, (1.0, 1.0, 1.0))],
        "shade": False,
    },
}


def image_data(volume, max_dim: int = 256):
    """A pyvista ImageData of ``volume`` (LPS geometry kept), subsampled so no side exceeds ``max_dim``."""
    import pyvista as pv

    step = max(1, int(np.ceil(max(volume.array.shape) / max_dim)))
    arr = np.asarray(volume.array)[::step, ::step, ::step]
    img = pv.ImageData(dimensions=arr.shape[::-1], spacing=tuple(s * step for s in volume.spacing),
                       origin=volume.origin)
    img.direction_matrix = np.asarray(volume.direction)
    img.point_data["values"] = np.ascontiguousarray(arr, dtype=np.float32).ravel(order="C")
    return img


#: diffuse lighting of the shaded presets, on the GPU and on VTK's CPU ray caster (whose shading
#: is darker: 1.0 there gives the GPU's brightness within 1 grey level on the hip sample's bone)
DIFFUSE = {"gpu": 0.75, "cpu": 1.0}


def volume_property(preset: str, spacing_mm: float, cpu: bool = False):
    """vtkVolumeProperty of preset ``preset`` for voxels of ``spacing_mm`` (smallest side);
    ``cpu`` for VTK's CPU ray caster (same look as on the GPU)."""
    import vtk

    if preset not in VOLUME_PRESETS:
        raise KeyError(f"unknown volume-rendering preset '{preset}' (use {', '.join(VOLUME_PRESETS)})")
    p = VOLUME_PRESETS[preset]
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
    if p.get("gradient"):
        gtf = vtk.vtkPiecewiseFunction()
        for g, a in p["gradient"]:
            gtf.AddPoint(g * spacing_mm, a)  # VTK's gradient is per voxel step, ours per mm
        prop.SetGradientOpacity(gtf)
    if p.get("shade", True):
        prop.ShadeOn()
        prop.SetAmbient(0.3)
        prop.SetDiffuse(DIFFUSE["cpu" if cpu else "gpu"])
        prop.SetSpecular(0.15)
        prop.SetSpecularPower(12)
    prop.SetScalarOpacityUnitDistance(spacing_mm * 2)
    return prop


SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "swiftshader")


def software_opengl(plotter) -> bool:
    """True when ``plotter``'s OpenGL is a software renderer (Mesa llvmpipe and the like).

    An off-screen plotter that has not drawn yet is rendered once (an empty scene) to
    learn it; an on-screen window that has not been shown yet counts as hardware.
    """
    rw = plotter.ren_win
    caps = rw.ReportCapabilities() or ""
    if "renderer string" not in caps and getattr(plotter, "off_screen", False):
        rw.Render()
        caps = rw.ReportCapabilities() or ""
    line = next((ln for ln in caps.splitlines() if "OpenGL renderer string" in ln), "").lower()
    return any(s in line for s in SOFTWARE_GL)


#: coarsest image sample distance (screen pixels per ray) of the CPU ray caster's interactive
#: frames (VTK's default is 10: a mosaic); still frames cast one ray per pixel
INTERACTIVE_MAX_IMAGE_SAMPLE_DISTANCE = 4.0


def add_volume_rendering(plotter, volume, preset: str = "bone", name: str = "volume"):
    """Volume-render ``volume`` with ``preset`` as actor ``name``; returns it.

    GPU ray casting (VTK smart mapper), or VTK's CPU ray caster
    (``vtkFixedPointVolumeRayCastMapper``) when the OpenGL is a software one
    (:func:`software_opengl`). The CPU ray caster is used directly, not through the smart
    mapper: the smart mapper switches its ray caster's ``AutoAdjustSampleDistances`` on for
    interactive frames, the ray caster then coarsens its own ``ImageSampleDistance`` from the
    frame time, and nothing sets it back when the still frame switches the adjustment off,
    so every frame after the first camera drag stayed blocky. Here the still settings are
    ours: :class:`surgiplan.scene.interaction_lod.InteractionLOD` lets VTK adapt the
    sample distances during interactive frames and puts these values back on release.
    """
    import vtk

    img = image_data(volume)
    cpu = software_opengl(plotter)
    if cpu:
        mapper = vtk.vtkFixedPointVolumeRayCastMapper()
        mapper.LockSampleDistanceToInputSpacingOn()  # as the smart mapper sets its ray caster
        mapper.SetImageSampleDistance(1.0)
        mapper.SetMaximumImageSampleDistance(INTERACTIVE_MAX_IMAGE_SAMPLE_DISTANCE)
    else:
        mapper = vtk.vtkSmartVolumeMapper()
        mapper.UseJitteringOn()  # jitter hides the remaining rings (GPU ray caster)
    mapper.SetInputData(img)
    # a fixed half-voxel ray step: the automatic step grows on a slow (software) renderer
    # and turns thin lumens dark and bone surfaces ringed
    mapper.AutoAdjustSampleDistancesOff()
    mapper.SetSampleDistance(0.5 * float(min(img.spacing)))
    if VOLUME_PRESETS[preset].get("blend") == "maximum":
        mapper.SetBlendModeToMaximumIntensity()
    else:
        mapper.SetBlendModeToComposite()
    actor = vtk.vtkVolume()
    actor.SetMapper(mapper)
    actor.SetProperty(volume_property(preset, float(min(img.spacing)), cpu=cpu))
    plotter.remove_actor(name, render=False)
    plotter.add_actor(actor, name=name, reset_camera=False, render=False)
    return actor
