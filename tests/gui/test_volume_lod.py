"""A camera drag in the 3D view ends in a full-quality volume frame (issue 28, bug 3).

While the camera turns, the volume is drawn with coarser sample distances (interaction
level of detail); on release the still frame must be exactly the frame a never-dragged
view draws. Under software OpenGL (Xvfb's llvmpipe here) VTK's smart mapper used to hand
the interactive frames to its CPU ray caster with ``AutoAdjustSampleDistances`` on; the ray
caster coarsened its ``ImageSampleDistance`` to the frame time and kept it after the
adjustment went off again, so every frame after the first drag stayed blurred and blocky.

The interactor asks for a high frame rate here (as a clinical-size volume on a slow
machine would need): this small phantom renders in ~20 ms, well inside the default 30 fps,
and VTK would see no need to coarsen anything.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

pytestmark = [pytest.mark.gui]

SAMPLE_GETTERS = ("GetSampleDistance", "GetImageSampleDistance", "GetAutoAdjustSampleDistances",
                  "GetInteractiveSampleDistance", "GetInteractiveAdjustSampleDistances")


def sample_state(mapper) -> dict:
    """The volume mapper's sample-distance settings (those its class has)."""
    return {g: getattr(mapper, g)() for g in SAMPLE_GETTERS if hasattr(mapper, g)}


def frame(plotter) -> np.ndarray:
    """The render window's current frame (RGB, int), without rendering again."""
    from pyvista.plotting.utilities.regression import image_from_window

    return np.asarray(image_from_window(plotter.render_window))[:, :, :3].astype(int)


def differing(a: np.ndarray, b: np.ndarray, tol: int = 6) -> np.ndarray:
    """Mask of pixels whose RGB differ by more than ``tol`` grey levels (summed)."""
    return np.abs(a - b).sum(-1) > tol


def test_a_camera_drag_ends_in_a_full_quality_volume_frame(window, qtbot):
    from surgiplan.scene.interaction_lod import INTERACTIVE_RATE
    from surgiplan.scene.volume_rendering import add_volume_rendering
    from tests.gui.test_window import phantom

    win = window
    win.resize(1000, 760)
    win.layout_widget.set_layout("1-up", "3d")
    vol = phantom()
    win.set_volume(vol)
    v3 = win.view3d
    p = v3.ensure_plotter()
    qtbot.waitUntil(lambda: "volume" in p.actors, timeout=10_000)
    qtbot.wait(200)
    rw = p.render_window
    iren = rw.GetInteractor()
    iren.SetDesiredUpdateRate(1000.0)  # interactive frames of 1 ms: VTK must coarsen
    mapper = p.actors["volume"].GetMapper()
    never_dragged = sample_state(mapper)

    seen = []  # (desired update rate, sample state) of each frame drawn

    def drawn(*_):
        seen.append((rw.GetDesiredUpdateRate(), sample_state(p.actors["volume"].GetMapper())))

    obs = rw.AddObserver("EndEvent", drawn)
    try:
        w = p.interactor
        c = QtCore.QPoint(w.width() // 2, w.height() // 2)
        qtbot.mousePress(w, QtCore.Qt.MouseButton.LeftButton, pos=c)
        for s in range(1, 6):
            qtbot.mouseMove(w, c + QtCore.QPoint(12 * s, 4 * s))
            qtbot.wait(50)
        qtbot.mouseRelease(w, QtCore.Qt.MouseButton.LeftButton, pos=c + QtCore.QPoint(60, 20))
        qtbot.wait(400)
    finally:
        rw.RemoveObserver(obs)
    interactive = [st for rate, st in seen if rate >= INTERACTIVE_RATE]
    assert len(interactive) >= 3, "the drag drew no interactive frames"
    if "GetImageSampleDistance" in never_dragged:  # the CPU ray caster: coarser while turning
        assert max(st["GetImageSampleDistance"] for st in interactive) > 1.0
    # released: still rate, full-quality settings, and the last frame drawn was a still one
    assert rw.GetDesiredUpdateRate() == iren.GetStillUpdateRate() < INTERACTIVE_RATE
    assert seen[-1][0] < INTERACTIVE_RATE
    assert sample_state(mapper) == never_dragged
    assert v3.lod.full_quality() and not v3.lod.active
    after = frame(p)  # what the release drew

    # the same camera drawn by a volume that never saw a drag
    cam = p.camera_position
    fresh = add_volume_rendering(p, vol, v3.volume_preset)
    p.render()
    assert sample_state(fresh.GetMapper()) == never_dragged
    assert p.camera_position == cam
    still = frame(p)
    bone = still.sum(-1) > 300  # the ivory ball (the background is darker than 60 grey)
    assert bone.sum() > 500
    diff = differing(after, still)
    assert diff.sum() <= 0.01 * bone.sum(), f"{diff.sum()} pixels differ from a still render"
    assert np.abs(after - still).mean() < 0.05


def test_interaction_lod_puts_the_volume_back_after_a_handle_drag(display):
    """The handle-drag path (``InteractionLOD.begin``/``end``, no interactor style) restores
    the volume too: interactive frames are coarser, the frame ``end`` renders is the still one."""
    import pyvista as pv

    from surgiplan.scene.interaction_lod import InteractionLOD
    from surgiplan.scene.scene3d import set_camera, setup_viewport
    from surgiplan.scene.volume_rendering import add_volume_rendering
    from tests.gui.test_window import phantom

    vol = phantom()
    b = vol.bounds()
    p = pv.Plotter(off_screen=True, window_size=(240, 240))
    try:
        setup_viewport(p)
        lod = InteractionLOD(p)
        mapper = add_volume_rendering(p, vol, "bone").GetMapper()
        set_camera(p, "anterior", bounds=[b[0, 0], b[1, 0], b[0, 1], b[1, 1], b[0, 2], b[1, 2]])
        p.show(auto_close=False)  # off-screen: plotter.render() draws only after show()
        still, state = frame(p), sample_state(mapper)
        lod.begin()
        p.render_window.SetDesiredUpdateRate(1000.0)  # a slow machine: VTK must coarsen
        coarse = []
        for _ in range(3):
            p.render()
            coarse.append(frame(p))
        assert lod.active and not lod.full_quality()
        if "GetImageSampleDistance" in state:  # the CPU ray caster (software OpenGL)
            assert mapper.GetImageSampleDistance() > 1.0
            assert differing(coarse[-1], still).sum() > 100
        lod.end()
        assert lod.full_quality() and sample_state(mapper) == state
        assert differing(frame(p), still).sum() == 0
    finally:
        p.close()
