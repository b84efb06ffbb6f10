"""Volume-rendering presets rendered off-screen on the sample scans and checked where the
sample's label map says each structure is: bone shows bone and hides soft tissue, soft
tissue shows the body with the bones seen through it, vessel shows a red aorta, MIP is a
grey projection brightest at bone."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.gui]


def render(volume, preset: str, points) -> tuple[np.ndarray, np.ndarray]:
    """Anterior view of ``volume`` with ``preset``: RGB at each LPS point, and the background
    (gradient) at the left edge of the first point's row."""
    import pyvista as pv
    import vtk

    from surgiplan.scene.scene3d import set_camera, setup_viewport
    from surgiplan.scene.volume_rendering import add_volume_rendering

    p = pv.Plotter(off_screen=True, window_size=(200, 200))
    try:
        setup_viewport(p)
        add_volume_rendering(p, volume, preset)
        b = volume.bounds()
        set_camera(p, "anterior", bounds=[b[0, 0], b[1, 0], b[0, 1], b[1, 1], b[0, 2], b[1, 2]])
        img = np.asarray(p.screenshot(None, return_img=True), int)
        out, rows = [], []
        for lps in points:
            c = vtk.vtkCoordinate()
            c.SetCoordinateSystemToWorld()
            c.SetValue(*map(float, lps))
            x, y = c.GetComputedDoubleDisplayValue(p.renderer)
            rows.append(int(round(img.shape[0] - 1 - y)))
            out.append(img[rows[-1], int(round(x))])
        return np.array(out), img[rows[0], 2]
    finally:
        p.close()


def centroid(volume, mask) -> np.ndarray:
    return volume.index_to_world(np.argwhere(mask).mean(axis=0)[::-1])


@pytest.fixture(scope="module")
def samples():
    from surgiplan.core.imaging import read_volume
    from surgiplan.core.samples import sample_path

    out = {}
    for name in ("hip", "vascular"):
        sp = sample_path(name)
        out[name] = (read_volume(sp.volume), read_volume(sp.labels).array)
    return out


def test_presets_show_what_they_are_for(display, samples):
    from surgiplan.scene.volume_rendering import VOLUME_PRESETS

    assert set(VOLUME_PRESETS) == {"bone", "soft tissue", "vessel", "mip"}
    hip, hip_lab = samples["hip"]
    # a femoral shaft (label 3, lowest slices) and a soft-tissue point lateral to it
    shaft = centroid(hip, (hip_lab == 3) & (np.arange(hip_lab.shape[0]) < 15)[:, None, None])
    soft = shaft + np.array([-35.0, 0, 0])  # patient right of the right femur: thigh muscle
    assert hip.array[tuple(np.round(hip.world_to_index(soft)).astype(int)[::-1])] > -200  # body
    (bone_px, soft_px), bg = render(hip, "bone", [shaft, soft])
    assert bone_px.mean() > 150 and bone_px[0] >= bone_px[2]  # bright ivory bone
    assert np.abs(soft_px - bg).sum() < 30  # soft tissue invisible
    (bone_px, soft_px), bg = render(hip, "soft tissue", [shaft, soft])
    assert np.abs(soft_px - bg).sum() > 20  # the body is seen ...
    assert bone_px.mean() > soft_px.mean() + 40  # ... and the bone through it

    vas, vas_lab = samples["vascular"]
    mid = vas_lab.shape[0] // 2
    slab = np.zeros(vas_lab.shape, bool)
    slab[mid - 3: mid + 4] = True
    aorta = centroid(vas, (vas_lab == 1) & slab)
    (lumen,), _ = render(vas, "vessel", [aorta])
    r, g, b = lumen
    assert r > 120 and r > g + 60 and r > b + 60  # a red lumen
    (spot,), _ = render(vas, "mip", [aorta])
    assert np.ptp(spot) < 12 and spot.mean() > 60  # grey, not colour


def test_view_menu_switches_the_3d_view_to_each_preset(window, qtbot):
    from tests.gui.test_window import phantom

    window.set_volume(phantom())
    window.view3d.ensure_plotter()
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    vr = next(a.menu() for a in menu.actions() if a.text() == "3D volume rendering")
    entries = {a.text(): a for a in vr.actions()}
    assert set(entries) == {"bone", "soft tissue", "vessel", "MIP", "off"}
    entries["MIP"].trigger()
    actor = window.view3d.plotter.actors["volume"]
    assert actor.GetMapper().GetBlendMode() == actor.GetMapper().MAXIMUM_INTENSITY_BLEND
    entries["soft tissue"].trigger()
    actor = window.view3d.plotter.actors["volume"]
    assert actor.GetMapper().GetBlendMode() == actor.GetMapper().COMPOSITE_BLEND
    gradient = actor.GetProperty().GetGradientOpacity()  # ours, not VTK's flat default
    assert gradient.GetSize() == 3 and gradient.GetValue(0.0) == 0.0
    entries["off"].trigger()
    assert "volume" not in window.view3d.plotter.actors


def test_startup_rendering_uses_the_one_preset_table(window, qtbot):
    """The 3D view's first volume rendering (no menu touched) is volume_presets' bone preset,
    and scene3d has no table of its own any more."""
    from surgiplan.scene import scene3d
    from surgiplan.scene import volume_rendering as volume_presets
    from tests.gui.test_window import phantom

    assert not hasattr(scene3d, "VOLUME_PRESETS")
    window.view3d.ensure_plotter()
    window.set_volume(phantom())
    qtbot.waitUntil(lambda: "volume" in window.view3d.plotter.actors, timeout=10000)
    prop = window.view3d.plotter.actors["volume"].GetProperty()
    bone = volume_presets.VOLUME_PRESETS["bone"]
    otf = prop.GetScalarOpacity()
    assert otf.GetSize() == len(bone["opacity"])
    for hu, alpha in bone["opacity"]:
        assert abs(otf.GetValue(hu) - alpha) < 1e-6
    assert prop.GetGradientOpacity().GetSize() == len(bone["gradient"])
    if volume_presets.software_opengl(window.view3d.plotter):  # Xvfb/llvmpipe: the CPU ray caster
        import vtk

        mapper = window.view3d.plotter.actors["volume"].GetMapper()
        assert isinstance(mapper, vtk.vtkFixedPointVolumeRayCastMapper)
        assert not mapper.GetAutoAdjustSampleDistances() and mapper.GetImageSampleDistance() == 1.0


def test_software_opengl_draws_with_the_cpu_ray_caster_and_the_same_look(display, samples):
    """Under a software OpenGL (Xvfb's llvmpipe here) the CPU ray caster draws the volume;
    its bone is as bright and as coloured as the GPU ray caster's (mean RGB within 8 levels)."""
    import pyvista as pv
    import vtk

    from surgiplan.scene.scene3d import set_camera, setup_viewport
    from surgiplan.scene.volume_rendering import add_volume_rendering, software_opengl

    hip, _ = samples["hip"]
    b = hip.bounds()
    shots, modes = {}, {}
    for mode in ("auto", "gpu", "none"):
        p = pv.Plotter(off_screen=True, window_size=(240, 240))
        try:
            setup_viewport(p)
            if mode != "none":
                actor = add_volume_rendering(p, hip, "bone")
                if mode == "gpu":  # what the 3D view draws on hardware OpenGL
                    cpu = actor.GetMapper()
                    gpu = vtk.vtkSmartVolumeMapper()
                    gpu.SetInputData(cpu.GetInput())
                    gpu.SetRequestedRenderModeToGPU()
                    gpu.AutoAdjustSampleDistancesOff()
                    gpu.SetSampleDistance(cpu.GetSampleDistance())
                    gpu.UseJitteringOn()
                    gpu.SetBlendModeToComposite()
                    actor.SetMapper(gpu)
                    actor.GetProperty().SetDiffuse(0.75)
            set_camera(p, "anterior", bounds=[b[0, 0], b[1, 0], b[0, 1], b[1, 1], b[0, 2], b[1, 2]])
            shots[mode] = np.asarray(p.screenshot(None, return_img=True), float)
            if mode != "none":
                m = actor.GetMapper()
                modes[mode] = m.GetLastUsedRenderMode() if mode == "gpu" else m.GetClassName()
            software = software_opengl(p)
        finally:
            p.close()
    if not software:
        pytest.skip("hardware OpenGL: the GPU ray caster is used and this comparison does not apply")
    from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper as M

    assert modes == {"auto": "vtkFixedPointVolumeRayCastMapper", "gpu": M.GPURenderMode}
    bone = np.abs(shots["gpu"] - shots["none"]).sum(-1) > 60
    assert bone.mean() > 0.1  # the pelvis and femora fill a good part of the view
    assert np.abs(shots["auto"][bone].mean(0) - shots["gpu"][bone].mean(0)).max() < 8
