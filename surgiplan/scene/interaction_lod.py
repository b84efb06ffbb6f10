"""Interactive level of detail for a pyvista Plotter: cheap frames while the user
drags an implant or turns the camera, the full picture again when the mouse is released.

Software OpenGL (llvmpipe) spends a 3D-view frame on the triangles of big bone models
and on the pixels they cover (five lights, 4x multisampling, order-independent
transparency). While the render window asks for interactive frames (VTK's own
signal: ``vtkRenderWindow.DesiredUpdateRate`` at or above ``INTERACTIVE_RATE`` fps,
set by the interactor style while the camera turns and by :class:`LodAffineWidget`
while a handle is dragged), every render of the plotter uses:

- a decimated proxy (core ``decimate``, cached per mesh content) in place of each
  surface of more than ``min_triangles`` triangles, with back faces culled;
- no multisampling, no order-independent transparency (plain blending), two lights
  (the light kit's key light and the headlight) instead of five;
- volumes: the CPU ray caster (``vtkFixedPointVolumeRayCastMapper``, software OpenGL) gets
  ``AutoAdjustSampleDistances`` on, so VTK coarsens its image and ray sample distances to
  the frame time; VTK's smart mapper (GPU) does the same by itself at that update rate
  (``InteractiveAdjustSampleDistances``) and resets it on still frames.

The first render at the still rate puts the full meshes and settings back, the ray
caster's still sample distances included (VTK leaves its adapted ``ImageSampleDistance``
in place when the adjustment goes off: the volume stayed blocky after any drag).
No Qt here.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

INTERACTIVE_RATE = 1.0  # frames/s: renders asked at this rate or more are interactive
MIN_TRIANGLES = 20_000  # surfaces above this get a proxy while interacting
PROXY_TRIANGLES = 12_000  # triangles of a proxy
_CACHE_SIZE = 24


def _mesh_key(poly) -> tuple:
    """Content key of a vtkPolyData (points and cell count): the same model re-added
    by pyvista (a new object each time) finds its proxy again."""
    from vtkmodules.util.numpy_support import vtk_to_numpy

    pts = poly.GetPoints()
    h = hashlib.blake2b(digest_size=16)
    if pts is not None:
        h.update(np.ascontiguousarray(vtk_to_numpy(pts.GetData())).tobytes())
    return poly.GetNumberOfPoints(), poly.GetNumberOfCells(), h.hexdigest()


def proxy_mesh(poly, target_triangles: int = PROXY_TRIANGLES):
    """A decimated copy of surface ``poly`` (vtkPolyData, LPS mm) with about
    ``target_triangles`` triangles and smooth point normals, for interactive frames."""
    import pyvista as pv

    from surgiplan.core.surfaces import decimate

    mesh = pv.wrap(poly)
    if not mesh.is_all_triangles:
        mesh = mesh.triangulate()
    small = decimate(mesh, target_triangles, keep_manifold=False)
    return small.compute_normals(cell_normals=False, split_vertices=False)


class InteractionLOD:
    """Swaps a plotter's heavy surfaces and render settings for cheap ones during
    interactive renders (see the module docstring); attach once per plotter."""

    def __init__(self, plotter, min_triangles: int = MIN_TRIANGLES,
                 proxy_triangles: int = PROXY_TRIANGLES) -> None:
        self.plotter = plotter
        self.min_triangles = int(min_triangles)
        self.proxy_triangles = int(proxy_triangles)
        self.active = False
        self.enabled = True
        self.explicit_renders = False  # a handle drag renders its frames itself (begin)
        self._proxies: OrderedDict[tuple, object] = OrderedDict()  # mesh key -> proxy mapper
        self._saved: dict = {}
        self._rw = plotter.render_window
        self._observer = self._rw.AddObserver("StartEvent", self._on_render_start)

    # ------------------------------------------------------------------ state
    def interactive(self) -> bool:
        """True when the render window asks for interactive frames."""
        return self._rw.GetDesiredUpdateRate() >= INTERACTIVE_RATE

    def begin(self, explicit_renders: bool = False) -> None:
        """Ask for interactive frames (as the interactor style does when the camera
        starts turning): the next renders use the proxies. ``explicit_renders``: the
        caller renders every frame itself (``plotter.render()``, e.g. a handle drag), so
        renders asked through the interactor (pyvistaqt's repaint renders the whole scene
        a second time after each frame) only show the last frame until :meth:`end`."""
        iren = self._rw.GetInteractor()
        rate = iren.GetDesiredUpdateRate() if iren is not None else 15.0
        self._rw.SetDesiredUpdateRate(max(rate, INTERACTIVE_RATE))
        if explicit_renders and iren is not None:
            iren.EnableRenderOff()
            self.explicit_renders = True

    def end(self, render: bool = True) -> None:
        """Back to still frames: full meshes and settings, re-rendered when ``render``."""
        iren = self._rw.GetInteractor()
        if iren is not None:
            iren.EnableRenderOn()
        self.explicit_renders = False
        self._rw.SetDesiredUpdateRate(iren.GetStillUpdateRate() if iren is not None else 0.0001)
        self._restore()
        if render:
            self.plotter.render()

    def detach(self) -> None:
        """Remove the observer and put everything back (before the plotter closes)."""
        iren = self._rw.GetInteractor()
        if iren is not None:
            iren.EnableRenderOn()
        self.explicit_renders = False
        self._restore()
        if self._observer is not None:
            self._rw.RemoveObserver(self._observer)
            self._observer = None
        self._proxies.clear()

    # ---------------------------------------------------------------- proxies
    def _heavy_actors(self) -> list:
        import vtk

        out = []
        actors = self.plotter.renderer.GetActors()
        actors.InitTraversal()
        for _ in range(actors.GetNumberOfItems()):
            a = actors.GetNextActor()
            m = a.GetMapper()  # pyvista uses vtkDataSetMapper for surfaces
            if not a.GetVisibility() or m is None or m in self._proxies.values():
                continue
            poly = m.GetInput()
            if isinstance(poly, vtk.vtkPolyData) and poly.GetNumberOfCells() > self.min_triangles:
                out.append(a)
        return out

    def proxy_mapper(self, mapper):
        """The cached proxy mapper of ``mapper``'s surface (built on first use)."""
        import vtk

        key = _mesh_key(mapper.GetInput())
        pm = self._proxies.get(key)
        if pm is None:
            pm = vtk.vtkPolyDataMapper()
            pm.ShallowCopy(mapper)
            pm.SetInputData(proxy_mesh(mapper.GetInput(), self.proxy_triangles))
            self._proxies[key] = pm
            while len(self._proxies) > _CACHE_SIZE:
                self._proxies.popitem(last=False)
        else:
            self._proxies.move_to_end(key)
        return pm

    def prepare(self) -> int:
        """Build the proxies of the surfaces shown now (so the first drag does not wait
        for them); returns how many surfaces have one."""
        n = 0
        for a in self._heavy_actors():
            self.proxy_mapper(a.GetMapper())
            n += 1
        return n

    # ------------------------------------------------------------ swap/restore
    def _on_render_start(self, *_):
        if not self.enabled:
            return
        if self.interactive():
            if not self.active:
                self._apply()
        elif self.active:
            self._restore()

    def _cpu_volume_mappers(self) -> list:
        """The CPU ray casters of the visible volumes (see :func:`volume_rendering.add_volume_rendering`)."""
        import vtk

        out = []
        vols = self.plotter.renderer.GetVolumes()
        vols.InitTraversal()
        for _ in range(vols.GetNumberOfItems()):
            v = vols.GetNextVolume()
            m = v.GetMapper()
            if v.GetVisibility() and isinstance(m, vtk.vtkFixedPointVolumeRayCastMapper):
                out.append(m)
        return out

    def _apply(self) -> None:
        ren, rw = self.plotter.renderer, self._rw
        volumes = []
        for m in self._cpu_volume_mappers():
            volumes.append((m, m.GetAutoAdjustSampleDistances(), m.GetImageSampleDistance(),
                            m.GetSampleDistance()))
            m.AutoAdjustSampleDistancesOn()  # VTK fits the sample distances to the frame time
        swapped = []
        for a in self._heavy_actors():
            full = a.GetMapper()
            prop = a.GetProperty()
            swapped.append((a, full, prop.GetBackfaceCulling()))
            a.SetMapper(self.proxy_mapper(full))
            prop.BackfaceCullingOn()  # closed bones: the back half is hidden anyway
        lights = []
        kit = list(ren.GetLights())
        if len(kit) > 2:
            for i, light in enumerate(kit):
                lights.append((light, light.GetSwitch()))
                light.SetSwitch(i < 2)  # light kit: headlight + key light
        self._saved = {"swapped": swapped, "lights": lights, "volumes": volumes,
                       "msaa": rw.GetMultiSamples(),
                       "oit": ren.GetUseOIT(), "peel": ren.GetUseDepthPeeling()}
        rw.SetMultiSamples(0)
        ren.SetUseOIT(False)
        ren.SetUseDepthPeeling(False)
        self.active = True

    def _restore(self) -> None:
        if not self.active:
            return
        s, ren, rw = self._saved, self.plotter.renderer, self._rw
        for a, full, cull in s["swapped"]:
            a.SetMapper(full)
            a.GetProperty().SetBackfaceCulling(cull)
        for light, on in s["lights"]:
            light.SetSwitch(on)
        for m, auto, image_step, ray_step in s["volumes"]:
            # the order matters: with the adjustment off VTK keeps whatever is set here
            m.SetAutoAdjustSampleDistances(auto)
            m.SetImageSampleDistance(image_step)
            m.SetSampleDistance(ray_step)
        rw.SetMultiSamples(s["msaa"])
        ren.SetUseOIT(s["oit"])
        ren.SetUseDepthPeeling(s["peel"])
        self._saved = {}
        self.active = False

    def full_quality(self) -> bool:
        """True when every surface shows its full mesh (no proxy swapped in) and no CPU
        ray caster adapts its sample distances to the frame time."""
        return not self.active and all(m not in self._proxies.values()
                                       for m in (a.GetMapper() for a in self._heavy_actors())) \
            and not any(m.GetAutoAdjustSampleDistances() for m in self._cpu_volume_mappers())


def lod_affine_widget(plotter, actor, lod: InteractionLOD, **kw):
    """pyvista's affine (arrows and rings) widget on ``actor`` whose drag renders
    interactive frames through ``lod``.

    On release the full meshes and settings come back; the full picture is rendered here
    when the actor did not move, and by the owner of ``release_callback`` when it did (it
    commits the pose and redraws, so the release costs one full render, not two). Hovering
    renders only when the highlighted handle changes."""
    from pyvista.plotting.affine_widget import AffineWidget3D

    class LodAffineWidget(AffineWidget3D):
        def _press_callback(self, interactor, event):
            super()._press_callback(interactor, event)
            if self._pressing_down:
                lod.begin(explicit_renders=True)  # _move_callback renders every move

        def _release_callback(self, interactor, event):
            was = self._pressing_down
            super()._release_callback(interactor, event)
            if was:
                # a moved implant is committed and redrawn by ``release_callback``'s owner
                # (one full render there); an unmoved one gets its full picture back here
                moved = not np.allclose(self._main_actor.user_matrix, np.eye(4), atol=1e-9)
                lod.end(render=not moved)

        def _move_callback(self, interactor, event):
            if self._pressing_down:
                return super()._move_callback(interactor, event)
            # hovering: pyvista re-renders the whole scene on every mouse move (about 0.3 s
            # at full quality); render only when the highlighted handle changes
            before, pl = self._selected_actor, self._pl
            was = pl.suppress_rendering
            pl.suppress_rendering = True
            try:
                super()._move_callback(interactor, event)
            finally:
                pl.suppress_rendering = was
            if self._selected_actor is not before:
                pl.render()

        def disable(self):
            if self._pressing_down:  # switched off mid-drag: never leave the view interactive
                self._pressing_down = False
                lod.end(render=False)
            super().disable()

    return LodAffineWidget(plotter, actor, **kw)
