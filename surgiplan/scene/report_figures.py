"""The OR plan report's images, rendered off screen with the window's scene pieces.

:class:`SceneFigures` is what :func:`surgiplan.core.report.make_report` takes as ``figures``
(core never imports the scene: the faces pass it in). It renders

* 3D views of the plan (AP, lateral, axial from above) with the window's
  :func:`~surgiplan.scene.scene3d.add_surface` look and camera framing
  (:func:`~surgiplan.scene.cameras.fit_camera` on the implants' region), on white for print:
  bone translucent light, implants opaque dark, knee cuts as planes;
* slices of the planning scan through the implants (radiological convention of
  :mod:`surgiplan.scene.slices`) with the implants' outlines
  (:func:`~surgiplan.scene.outlines.plane_outline`), resection lines and screw trajectories as
  vector marks;
* each finished simulation study's ``surface.vtp`` coloured by its display fields (viridis:
  its lightness rises monotonically, so it reads in greyscale) with a scalar bar and units.

Orientation letters (patient L/R/A/P/S/I at each image edge) and every label are returned as
vector marks for the PDF, never burnt into the pixels. All geometry is LPS mm.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.report.figures import Figure, Label, Mark, direction_letter
from surgiplan.scene.cameras import _union_bounds, fit_camera, implant_region
from surgiplan.scene.scene3d import CAMERAS, add_surface, cut_plane_mesh

#: Print colours: light bone, dark implants (about 85 % and 35 % grey in greyscale).
BONE = (0.84, 0.80, 0.72)
VESSEL = (0.85, 0.62, 0.60)
IMPLANT = (0.22, 0.30, 0.45)
CUT = (0.95, 0.55, 0.10)
CAPTIONS = {"anterior": "AP view (from the front)", "superior": "Axial view from above",
            "left": "Lateral view (from the patient's left)", "right": "Lateral view (from the patient's right)",
            "posterior": "PA view (from behind)"}
BONE_WINDOW = (400.0, 1800.0)
VESSEL_WINDOW = (200.0, 600.0)


def view_edges(view: str) -> tuple[str, str, str, str]:
    """Patient directions at the (left, right, top, bottom) edges of a render from ``view``."""
    d, up = (np.asarray(v, float) for v in CAMERAS[view])
    right = np.cross(-d, up)
    return direction_letter(-right), direction_letter(right), direction_letter(up), direction_letter(-up)


def _implant_meshes(case, plan_name: str, catalog) -> dict[str, object]:
    plan = case.plan(plan_name)
    out = {}
    for imp in plan.implants.values():
        if imp.catalog_id not in catalog:
            continue
        out[imp.id] = catalog.get(imp.catalog_id).geometry(imp.size, imp.options or None) \
            .transformed(imp.transform).merged()
    return out


def lateral_view(side: str) -> str:
    """The camera of the lateral view: from the operated side (the left for both or none)."""
    return "right" if side.upper() == "RIGHT" else "left"


class SceneFigures:
    """Off-screen renders for the report (see module docstring); one instance per report.

    Parameters
    ----------
    size_px : int
        Width and height of a 3D render in pixels (700 px is 300 dpi at 59 mm, a third of the page).
    catalog : Catalog, optional
        Implant catalog (the default one otherwise).
    """

    def __init__(self, size_px: int = 700, catalog=None):
        from surgiplan.core.planning.catalog import default_catalog

        self.size_px = int(size_px)
        self.catalog = catalog or default_catalog()
        self._volumes: dict = {}

    # ------------------------------------------------------------------ 3D
    def _plotter(self, aspect: float = 1.0):
        import pyvista as pv

        w = self.size_px
        p = pv.Plotter(off_screen=True, window_size=(w, max(int(w * aspect), 64)))
        p.set_background("white")
        return p

    def _shot(self, p) -> np.ndarray:
        p.render()
        return p.screenshot(return_img=True)

    def plan_views(self, case, plan_name: str, side: str = "LEFT", views=None, bounds=None) -> list[Figure]:
        """3D renders of plan ``plan_name`` from ``views`` (default AP, lateral from the operated
        side, axial from above), framed on the implants' region (``bounds`` overrides it)."""
        views = views or ("anterior", lateral_view(side), "superior")
        return self._render_plans(case, [(plan_name, views)], bounds)

    def comparison_views(self, case, plans: list[str], side: str = "LEFT") -> list[Figure]:
        """AP renders of each plan with one camera (the union of their implants' regions)."""
        meshes = [m for p in plans for m in _implant_meshes(case, p, self.catalog).values()]
        models = [case.get_model(n) for n in case.model_names]
        box = implant_region(_union_bounds(meshes), _union_bounds([*models, *meshes]))
        out = self._render_plans(case, [(p, ("anterior",)) for p in plans], box)
        for p, f in zip(plans, out, strict=True):
            f.caption = f"Plan {p}: AP view"
        return out

    def _render_plans(self, case, jobs, bounds=None) -> list[Figure]:
        """One off-screen plotter with the case's models; per (plan, views): its implants and cuts
        swapped in, one render per view (framed on ``bounds`` or the plan's implants' region)."""
        models = {n: case.get_model(n) for n in case.model_names}
        p = self._plotter()
        out = []
        try:
            shown: list[str] = []
            for k, (plan_name, views) in enumerate(jobs):
                implants = _implant_meshes(case, plan_name, self.catalog)
                if k == 0:
                    opacity = 0.4 if implants else 1.0
                    for n, m in models.items():
                        add_surface(p, m, f"model:{n}", color=VESSEL if n.startswith("vessel") else BONE,
                                    opacity=opacity)
                for name in shown:
                    p.remove_actor(name, render=False)
                shown = []
                for iid, m in implants.items():
                    add_surface(p, m, f"implant:{iid}", color=IMPLANT)
                    shown.append(f"implant:{iid}")
                for rs in case.plan(plan_name).resections.values():
                    centre = np.asarray(case.get_model(rs.model).center) if rs.model in models else None
                    add_surface(p, cut_plane_mesh(rs.origin, rs.normal, 90.0, centre), f"cut:{rs.name}",
                                color=CUT, opacity=0.55)
                    shown.append(f"cut:{rs.name}")
                box = bounds
                if box is None:
                    box = implant_region(_union_bounds(list(implants.values())),
                                         _union_bounds([*models.values(), *implants.values()]))
                for view in views:
                    fit_camera(p, np.asarray(box).ravel(), view, 1.0)
                    img = self._shot(p)
                    out.append(Figure(img, CAPTIONS.get(view, view), view_edges(view)))
            return out
        finally:
            p.close()

    # --------------------------------------------------------------- slices
    def _volume(self, case):
        from surgiplan.core.imaging.volume_io import read_volume

        scan = case.model.scans[0]
        if scan.name not in self._volumes:
            self._volumes[scan.name] = read_volume(case.root / scan.volume)
        return self._volumes[scan.name]

    def slices(self, case, plan_name: str, anatomy: str, cut_labels: dict[str, str] | None = None) -> list[Figure]:
        """Slices of the planning scan through the implants with outlines (see module docstring).

        hip, knee, vascular: a coronal and a second (axial for the hip, sagittal otherwise) slice
        through the implants' centre; spine: one axial slice per level through its screws.
        ``cut_labels``: the text beside each resection line (e.g. its thickness), by cut name.
        """
        if not case.model.scans:
            return []
        plan = case.plan(plan_name)
        implants = _implant_meshes(case, plan_name, self.catalog)
        if not implants:
            return []
        window = VESSEL_WINDOW if anatomy == "vascular" else BONE_WINDOW
        out = []
        if anatomy == "spine":
            levels: dict[str, list] = {}
            for imp in plan.implants.values():
                if imp.id in implants and imp.bone:
                    levels.setdefault(imp.bone, []).append(imp)
            for level in sorted(levels):
                pts = np.array([imp.transform[:3, 3] for imp in levels[level]])
                centre = pts.mean(axis=0)
                axes = [(imp.transform[:3, 3], imp.transform[:3, 2], self._length(imp)) for imp in levels[level]]
                out.append(self._slice(case, "axial", centre, implants, window, plan,
                                       f"{level}: axial slice through the screws", axes))
            return out
        main = self._main_implant(plan)
        centre = main.transform[:3, 3] if main is not None else \
            np.asarray(_union_bounds(list(implants.values()))).mean(axis=1)
        if anatomy == "knee":
            centre = np.mean([imp.transform[:3, 3] for imp in plan.implants.values()], axis=0)
        second = "axial" if anatomy == "hip" else "sagittal"
        for view in ("coronal", second):
            out.append(self._slice(case, view, centre, implants, window, plan,
                                   f"{view.capitalize()} slice through the implants", cut_labels=cut_labels))
        return out

    def _envelope(self, imp):
        """A stent's nominal cylinder (diameter x length from the catalogue) in LPS, else None."""
        import pyvista as pv

        if imp.catalog_id not in self.catalog or self.catalog.get(imp.catalog_id).model.kind != "stent":
            return None
        p = self.catalog.get(imp.catalog_id).size(imp.size)
        cyl = pv.Cylinder(center=(0, 0, 0), direction=(0, 0, 1), radius=p["diameter"] / 2, height=p["length"],
                          resolution=48, capping=True)
        return cyl.transform(np.asarray(imp.transform, float), inplace=False)

    def _length(self, imp) -> float:
        try:
            return float(self.catalog.get(imp.catalog_id).size(imp.size).get("length", 40.0))
        except Exception:  # noqa: BLE001 - no length in the catalogue: a nominal 40 mm line
            return 40.0

    def _main_implant(self, plan):
        order = ("acetabular_cup", "femoral_stem", "femoral_component", "stent")
        best = None
        for imp in plan.implants.values():
            kind = self.catalog.get(imp.catalog_id).model.kind if imp.catalog_id in self.catalog else ""
            rank = order.index(kind) if kind in order else len(order)
            if best is None or rank < best[0]:
                best = (rank, imp)
        return None if best is None else best[1]

    def _slice(self, case, view, centre, implants, window, plan, caption, axes=(), cut_labels=None) -> Figure:
        from surgiplan.scene import slices as sl
        from surgiplan.scene.outlines import plane_outline

        cut_labels = cut_labels or {}
        vol = self._volume(case)
        grid = sl.CanonicalGrid.of_volume(vol)
        canon = grid.canonical(vol.array)

        def to_px(world):
            xyz = grid.ijk_to_xyz(vol.world_to_index(np.asarray(world, float)))
            nz = grid.shape_xyz[2]
            if view == "axial":
                return np.stack([xyz[..., 0], xyz[..., 1]], -1), xyz[..., 2]
            if view == "coronal":
                return np.stack([xyz[..., 0], (nz - 1) - xyz[..., 2]], -1), xyz[..., 1]
            return np.stack([xyz[..., 1], (nz - 1) - xyz[..., 2]], -1), xyz[..., 0]

        c_px, c_idx = to_px(centre)
        index = int(np.clip(round(float(c_idx)), 0, sl.slice_count(grid, view) - 1))
        image = sl.extract_slice(canon, view, index)
        normal = {"axial": (0, 0, 1.0), "coronal": (0, 1.0, 0), "sagittal": (1.0, 0, 0)}[view]
        origin = vol.index_to_world(grid.xyz_to_ijk(sl.pixel_to_xyz(grid, view, index, 0.0, 0.0)))
        # crop: the implants' region (at least 110 mm square) around the centre
        pmm = sl.pixel_mm(grid, view)
        box = implant_region(_union_bounds(list(implants.values())), None, 0.15, 15.0)
        corners = np.array([[x, y, z] for x in box[0] for y in box[1] for z in box[2]])
        cp, _ = to_px(corners)
        half = np.maximum((cp.max(axis=0) - cp.min(axis=0)) / 2, 55.0 / np.asarray(pmm))
        half_mm = max(half[0] * pmm[0], half[1] * pmm[1])
        half = half_mm / np.asarray(pmm)
        mid = (cp.max(axis=0) + cp.min(axis=0)) / 2
        rows, cols = image.shape
        c0, c1 = int(max(0, np.floor(mid[0] - half[0]))), int(min(cols, np.ceil(mid[0] + half[0]) + 1))
        r0, r1 = int(max(0, np.floor(mid[1] - half[1]))), int(min(rows, np.ceil(mid[1] + half[1]) + 1))
        crop = sl.window_to_uint8(image[r0:r1, c0:c1], *window)
        # print resolution: upsample to about 800 px on the long side, true aspect kept
        w_mm, h_mm = (c1 - c0) * pmm[0], (r1 - r0) * pmm[1]
        scale = 800.0 / max(w_mm, h_mm)
        out_w, out_h = max(int(round(w_mm * scale)), 8), max(int(round(h_mm * scale)), 8)
        from PIL import Image  # reportlab's image dependency

        big = np.asarray(Image.fromarray(crop).resize((out_w, out_h), Image.Resampling.BICUBIC))

        def frac(px):
            px = np.asarray(px, float)
            return [(float((x - (c0 - 0.5)) / (c1 - c0)), float((y - (r0 - 0.5)) / (r1 - r0))) for x, y in px]

        marks, labels = [], []
        for iid, mesh in implants.items():
            envelope = self._envelope(plan.implants[iid])  # a stent: its cylinder, not its struts
            for line in plane_outline(envelope if envelope is not None else mesh, origin, normal):
                p2, _ = to_px(line)
                marks.append(Mark(frac(p2), "outline"))
        for key in ("stenosis_proximal_end", "stenosis_distal_end"):  # the lesion's ends across the vessel
            lm = case.landmarks.get(key)
            centre_lm = case.landmarks.get("stenosis_centre")
            if lm is None or centre_lm is None or centre_lm.direction is None:
                continue
            across = np.cross(centre_lm.direction, normal)
            if np.linalg.norm(across) < 1e-6:
                continue
            across /= np.linalg.norm(across)
            p2, _ = to_px(np.array([lm.position - 9.0 * across, lm.position + 9.0 * across]))
            f = frac(p2)
            marks.append(Mark(f, "lesion"))
            labels.append(Label(f[1][0] + 0.01, f[1][1] + 0.02, "lesion end", "left"))
        for entry, axis, length in axes:
            p2, _ = to_px(np.array([entry - 5.0 * axis, entry + length * axis]))
            marks.append(Mark(frac(p2), "axis"))
        for rs in plan.resections.values():
            seg = _plane_line(rs.origin, rs.normal, origin, normal, box)
            if seg is None:
                continue
            p2, _ = to_px(seg)
            f = frac(p2)
            marks.append(Mark(f, "cut"))
            # the label sits at the image's left end of the line, on the kept bone's side
            (xa, ya), (xb, yb) = sorted(f)
            x = 0.03
            y = ya + (yb - ya) * (x - xa) / (xb - xa) if abs(xb - xa) > 1e-6 else ya
            up = float(np.asarray(rs.normal, float)[2]) > 0  # kept side superior: label above the line
            text = cut_labels.get(rs.name, rs.name.replace("_", " "))
            labels.append(Label(x, min(max(y - 0.035 if up else y + 0.055, 0.05), 0.95), text, "left"))
        edges = sl.EDGE_LABELS[view]
        return Figure(big, caption, edges, marks, labels, mm_per_px=1.0 / scale)

    # ---------------------------------------------------------- simulation
    def study_views(self, case, study, side: str = "LEFT") -> list[Figure]:
        """``surface.vtp`` of a finished study coloured by each display field (AP and lateral)."""
        import pyvista as pv

        from surgiplan.core.errors import InputError
        from surgiplan.core.fileio import check_inside

        path = check_inside(study.folder, "surface.vtp", "study surface")
        if not path.is_file():
            raise InputError("has no surface.vtp to show", path=study.folder)
        mesh = pv.read(path)
        out = []
        for fld in study.summary.get("display_fields", []):
            name = fld.get("name")
            if name not in mesh.point_data:
                continue
            title = fld.get("unit", "") or " "  # the caption names the field; a long title is cut off
            clim = tidy_range(fld.get("range"))
            values = np.asarray(mesh.point_data[name], float).copy()
            grey_rest = bool(fld.get("bone_only")) and "region_id" in mesh.point_data
            if grey_rest:  # a bone-only field (e.g. CT-mapped modulus): the implant in grey, not on the scale
                values[np.asarray(mesh.point_data["region_id"]) >= 0.5] = np.nan
            shown = mesh.copy(deep=False)
            shown.point_data["_shown"] = values
            caption = f"{fld.get('label', name)} ({fld.get('unit', '')})" + ("; implant grey" if grey_rest else "")
            for view in ("anterior", lateral_view(side)):
                p = self._plotter()
                try:
                    p.add_mesh(shown, scalars="_shown", cmap="viridis", clim=clim, smooth_shading=True,
                               nan_color="lightgrey", scalar_bar_args=scalar_bar_style(title, clim, self.size_px))
                    fit_camera(p, np.asarray(mesh.bounds), view, 1.0, margin=1.15)
                    img = self._shot(p)
                finally:
                    p.close()
                out.append(Figure(img, f"{caption}, {CAPTIONS.get(view, view)}", view_edges(view)))
        return out


def tidy_range(clim):
    """A display range with a lower end that is zero but for round-off (e.g. a displacement's 6.6e-12 mm
    at the fixed end, which the bar would print as ``6.62e-12``) set to exactly 0; other ranges as given."""
    if clim is None or len(clim) != 2:
        return clim
    lo, hi = float(clim[0]), float(clim[1])
    if np.isfinite(lo) and np.isfinite(hi) and hi > 0 and 0 <= lo < 1e-6 * hi:
        lo = 0.0
    return [lo, hi]


def bar_format(clim) -> str:
    """printf format of a colour bar's labels for the range ``clim`` (data units): whole numbers from 100 up
    (``20600``, not ``2.06e+04``), three significant digits below, so that no label is wider than the bar's
    slot of the render."""
    if clim is None or len(clim) != 2 or not np.all(np.isfinite(clim)):
        return "%.3g"
    span = float(max(abs(clim[0]), abs(clim[1])))
    return "%.0f" if span >= 100.0 else "%.3g"


def scalar_bar_style(title: str, clim, size_px: int = 700) -> dict:
    """pyvista ``scalar_bar_args`` of a report render ``size_px`` wide: a vertical bar in the top-right
    quadrant, clear of the patient-direction letters at the middle of each edge (R/L, A/P) and at the top and
    bottom (S/I); fonts scale with the render so that a five-digit label fits at any size."""
    k = max(size_px, 100) / 700.0
    return {"title": title, "color": "black", "title_font_size": max(int(26 * k), 8),
            "label_font_size": max(int(22 * k), 7), "vertical": True,
            "position_x": 0.80, "position_y": 0.50, "height": 0.40, "width": 0.12, "n_labels": 5,
            "fmt": bar_format(clim)}


def _plane_line(p_origin, p_normal, s_origin, s_normal, box):
    """The segment (2 x 3, LPS mm) where plane (p_origin, p_normal) crosses the slice plane, cut to
    the box's extent along the line; None when the planes are parallel."""
    n1, n2 = np.asarray(p_normal, float), np.asarray(s_normal, float)
    d = np.cross(n1, n2)
    if np.linalg.norm(d) < 1e-6:
        return None
    d /= np.linalg.norm(d)
    a = np.array([n1, n2, d])
    b = np.array([n1 @ np.asarray(p_origin, float), n2 @ np.asarray(s_origin, float), d @ np.asarray(p_origin)])
    x0 = np.linalg.solve(a, b)
    b3 = np.asarray(box, float).reshape(3, 2)
    half = float(np.linalg.norm(b3[:, 1] - b3[:, 0])) / 2
    c = b3.mean(axis=1)
    t = (c - x0) @ d
    return np.array([x0 + (t - half * 0.6) * d, x0 + (t + half * 0.6) * d])
