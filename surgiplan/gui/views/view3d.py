"""The 3D view: a pyvistaqt QtInteractor created after the window is on screen.

pyvista/VTK take ~2 s to import, so the window shows a placeholder first and
the interactor is built once :func:`warm_up` (a background import) finished.
Everything drawn comes from :mod:`surgiplan.scene.scene3d`. While the camera turns or
an implant handle is dragged, :mod:`surgiplan.scene.interaction_lod` draws decimated
bones with cheaper settings; the still picture after the release is full quality.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PySide6 import QtCore, QtWidgets

_WARM = threading.Event()
_WARM_STARTED = threading.Event()


def warm_up() -> None:
    """Import pyvista/VTK (no Qt modules) in a background thread (once)."""
    if _WARM_STARTED.is_set():
        return
    _WARM_STARTED.set()

    def run() -> None:
        # pyvistaqt (qtpy, PySide6 submodules) is imported in the GUI thread by
        # ensure_plotter: importing Qt bindings here raced with the GUI thread (segfault)
        try:
            import pyvista.plotting  # noqa: F401
            import vtk  # noqa: F401
        finally:
            _WARM.set()

    threading.Thread(target=run, name="surgiplan-import-vtk", daemon=True).start()


class View3D(QtWidgets.QFrame):
    """3D view of the scan (volume rendering), models and implants."""

    ready = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None, name: str = "3D") -> None:
        super().__init__(parent)
        self.setObjectName("view3d")
        self.setMinimumSize(160, 160)
        self.setStyleSheet("QFrame#view3d { background: #0d0f12; border: 2px solid #2f5f8f; }")
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._placeholder = QtWidgets.QLabel(f"{name}\npreparing the 3D renderer…")
        self._placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setStyleSheet("color: #7d858f; background: transparent;")
        self._layout.addWidget(self._placeholder)
        self.plotter = None
        self._pending: list = []
        self._volume_key = None
        self.volume_preset = "bone"
        self._click_cb = None
        #: surface-click handlers asked before the click callback: fn(lps, actor_name) -> True if handled
        self.click_first: list = []
        self._press_at: tuple[int, int] | None = None
        self._fresh_frame = False  # see _paint_shows_fresh_frame
        self.lod = None  # InteractionLOD of the plotter
        self._lod_timer = QtCore.QTimer(self)  # builds the drag proxies once surfaces settle
        self._lod_timer.setSingleShot(True)
        self._lod_timer.setInterval(400)
        self._lod_timer.timeout.connect(self.prepare_lod)
        warm_up()
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    # ---------------------------------------------------------------- creation
    def _poll(self) -> None:
        if _WARM.is_set():
            self._timer.stop()
            self.ensure_plotter()

    def ensure_plotter(self):
        """Create the interactor now (blocks until pyvista is imported)."""
        if self.plotter is not None:
            return self.plotter
        self._timer.stop()
        warm_up()
        _WARM.wait(120)  # importing pyvista here while the warm-up thread does gives half modules
        from pyvistaqt import QtInteractor

        from surgiplan.scene.interaction_lod import InteractionLOD
        from surgiplan.scene.scene3d import setup_viewport

        self.plotter = QtInteractor(self, auto_update=False)
        setup_viewport(self.plotter)
        self.lod = InteractionLOD(self.plotter)
        self._layout.removeWidget(self._placeholder)
        self._placeholder.deleteLater()
        self._layout.addWidget(self.plotter.interactor)
        # clicks are watched at the Qt level: VTK interactor styles swallow button releases
        self.plotter.interactor.installEventFilter(self)
        self._fresh_frame = False  # a render finished outside a paint and is not shown yet
        self.plotter.render_window.AddObserver("EndEvent", self._frame_done)
        pending, self._pending = self._pending, []
        for fn in pending:
            fn()
        self.ready.emit()
        return self.plotter

    def prepare_lod(self) -> None:
        """Build the decimated proxies of the big surfaces shown now (cached per mesh), so
        the first drag or camera turn does not wait for them."""
        if self.lod is not None:
            self.lod.prepare()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Coalesce renders: whatever is drawn inside (surfaces, handles, labels, explicit
        ``plotter.render()`` calls) is shown by one render when the outermost batch ends.
        A full-quality frame of a 200k-triangle scene costs about 0.3 s under software
        OpenGL, and one case edit redraws implants, landmarks, cuts and handles."""
        p = self.plotter
        if p is None or p.suppress_rendering:  # no renderer yet, or an outer batch renders
            yield
            return
        p.suppress_rendering = True
        try:
            yield
        finally:
            p.suppress_rendering = False
            if self.plotter is p:
                p.render()

    def when_ready(self, fn) -> None:
        """Run ``fn()`` now if the plotter exists, else once it does."""
        if self.plotter is not None:
            fn()
        else:
            self._pending.append(fn)

    def close_plotter(self) -> None:
        """Release the render window (must be called before the widget goes)."""
        self._timer.stop()
        self._lod_timer.stop()
        if self.lod is not None:
            self.lod.detach()
            self.lod = None
        if self.plotter is not None:
            self.plotter.close()
            self.plotter = None

    # ---------------------------------------------------------------- picking
    def set_click_callback(self, fn) -> None:
        """Call ``fn(lps_mm, actor_name)`` when a surface is clicked (press and release
        within 3 pixels, so dragging still turns the camera); None stops it."""
        self._click_cb = fn

    # ------------------------------------------------------- one render per frame
    def _frame_done(self, *_) -> None:
        w = self.plotter.interactor if self.plotter is not None else None
        if w is not None and not getattr(w, "_in_paint", False):
            self._fresh_frame = True

    def _paint_shows_fresh_frame(self) -> None:
        """The paint Qt schedules after an explicit ``plotter.render()`` only has to show
        that frame: pyvistaqt's paint renders the whole scene again (0.3 s more per
        render at 200k triangles under software OpenGL). As VTK's C++ Qt widget does,
        the first paint after such a render skips the VTK render; any other paint
        (expose, resize) renders as before."""
        self._fresh_frame = False
        iren = self.plotter.render_window.GetInteractor()
        if iren is None or not iren.GetEnableRender():
            return  # a handle drag renders every frame itself (interaction LOD)
        iren.EnableRenderOff()

        def back_on() -> None:
            # back on unless a handle drag switched it off meanwhile for its own frames
            if self.plotter is not None and not (self.lod is not None and self.lod.explicit_renders):
                iren.EnableRenderOn()

        QtCore.QTimer.singleShot(0, back_on)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        t = event.type()
        if t == QtCore.QEvent.Type.Paint and self._fresh_frame and self.plotter is not None:
            self._paint_shows_fresh_frame()
        elif t == QtCore.QEvent.Type.Resize:
            self._fresh_frame = False  # the widget's frame buffer is new: paint renders
        left = QtCore.Qt.MouseButton.LeftButton
        if t == QtCore.QEvent.Type.MouseButtonPress and event.button() == left:
            self._press_at = (event.position().x(), event.position().y())
        elif t == QtCore.QEvent.Type.MouseButtonRelease and event.button() == left:
            start, self._press_at = self._press_at, None
            x, y = event.position().x(), event.position().y()
            if (self._click_cb is not None or self.click_first) and start is not None and \
                    abs(x - start[0]) <= 3 and abs(y - start[1]) <= 3:
                r = obj.devicePixelRatioF()
                hit = self.pick_surface(x * r, (obj.height() - 1 - y) * r)
                if hit is not None and not any(fn(*hit) for fn in self.click_first) and self._click_cb is not None:
                    self._click_cb(*hit)
        return False

    def pick_surface(self, x: int, y: int, prefixes=("model:",)):
        """The LPS point (mm) and actor name of the surface under display pixel
        (``x``, ``y`` from the bottom left, VTK convention), among actors whose name
        starts with one of ``prefixes``; None when nothing is hit."""
        if self.plotter is None:
            return None
        import vtk

        cands = [(str(n), a) for n, a in self.plotter.actors.items()
                 if str(n).startswith(tuple(prefixes)) and a.GetVisibility()]
        if not cands:
            return None
        picker = vtk.vtkCellPicker()
        picker.SetTolerance(1e-4)
        picker.PickFromListOn()
        for _, a in cands:
            picker.AddPickList(a)
        if not picker.Pick(float(x), float(y), 0.0, self.plotter.renderer):
            return None
        actor = picker.GetActor()
        name = next((n for n, a in cands if a is actor or a.GetAddressAsString("vtkActor")
                     == actor.GetAddressAsString("vtkActor")), None)
        if name is None:
            return None
        return np.array(picker.GetPickPosition(), float), str(name)

    # ------------------------------------------------------------------ content
    def show_volume(self, volume, preset: str | None = None) -> None:
        """Volume-render ``volume`` (subsampled) with a preset; None hides it."""
        def do() -> None:
            from surgiplan.scene.scene3d import add_volume_rendering, set_camera
            from surgiplan.scene.window_presets import is_ct

            p = self.plotter
            if volume is None or (preset or self.volume_preset) == "off":
                p.remove_actor("volume", render=False)
                self._volume_key = None
                p.render()
                return
            self.volume_preset = preset or self.volume_preset
            key = (id(volume.array), self.volume_preset)
            if key == self._volume_key:
                return
            first = self._volume_key is None
            self._volume_key = key
            if not is_ct(volume):
                self.volume_preset = "soft tissue"
            add_volume_rendering(p, volume, self.volume_preset)
            if first:
                b = volume.bounds()
                set_camera(p, "anterior", bounds=[b[0, 0], b[1, 0], b[0, 1], b[1, 1], b[0, 2], b[1, 2]])
            p.render()

        self.when_ready(do)

    def set_surface(self, name: str, mesh, color, opacity: float = 1.0, render: bool = True) -> None:
        """Add/replace a surface actor (None removes it)."""
        def do() -> None:
            from surgiplan.scene.scene3d import add_surface

            if mesh is None:
                self.plotter.remove_actor(name, render=False)
            else:
                add_surface(self.plotter, mesh, name, color=color, opacity=opacity)
                self._lod_timer.start()
            if render:
                self.plotter.render()

        self.when_ready(do)

    def remove_prefixed(self, prefix: str) -> None:
        def do() -> None:
            for n in [n for n in self.plotter.actors if str(n).startswith(prefix)]:
                self.plotter.remove_actor(n, render=False)
            self.plotter.render()

        self.when_ready(do)

    def set_opacity_prefixed(self, prefix: str, opacity: float) -> None:
        """Set the opacity of every surface actor whose name starts with ``prefix``."""
        def do() -> None:
            for n, a in self.plotter.actors.items():
                if str(n).startswith(prefix) and hasattr(a, "prop"):
                    a.prop.opacity = opacity
            self.plotter.render()

        self.when_ready(do)

    def set_camera(self, view: str) -> None:
        def do() -> None:
            from surgiplan.scene.scene3d import set_camera

            set_camera(self.plotter, view)
            self.plotter.render()

        self.when_ready(do)

    def screenshot(self) -> np.ndarray | None:
        """RGB array of the 3D view (None before the renderer exists)."""
        if self.plotter is None:
            return None
        self.plotter.render()
        return self.plotter.screenshot(None, return_img=True)
