"""What the Plan panel shows while something is being dragged, computed with the core.

No Qt here. :func:`preview_pose` lets :func:`measure_plan` see a candidate pose of
one implant without touching the case history (the pose is put back on exit), and
:class:`InterferenceRows` turns the core's precomputed bone fields
(:func:`surgiplan.core.planning.bone_fields.bone_field`) and implant samples into
measurement rows (mm^3, mm) fast enough for every drag update (~4 ms per pose).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

VOLUME_DEF = ("Volume of the implant's bone-contact parts inside the bone model (interior samples "
              "of the implant inside the bone's signed distance field).")
DEPTH_DEF = ("Deepest penetration of the implant's contact parts into the bone (positive), or, "
             "without contact, the smallest gap between implant and bone (negative).")


@contextmanager
def preview_pose(case, plan_name: str, implant_id: str | None, transform: np.ndarray | None):
    """Temporarily give implant ``implant_id`` the pose ``transform`` (4x4, implant -> LPS mm).

    Nothing is recorded in the history and the case's dirty flag is not touched;
    the original pose is restored when the block ends (also on errors).
    """
    imp = None
    if implant_id is not None and transform is not None:
        imp = case.plan(plan_name).implants.get(implant_id)
    if imp is None:
        yield
        return
    saved = imp.transform
    imp.transform = np.asarray(transform, float)
    try:
        yield
    finally:
        imp.transform = saved


class InterferenceRows:
    """Interference of each implant of a plan with its ``bone`` model, as measurement rows.

    Implant samples are cached per (catalog id, size, options); the bone fields come
    from the core's per-case cache and must have been prepared beforehand
    (:meth:`missing_fields` lists the bones still lacking one) - until then the rows
    say so instead of blocking the window.
    """

    def __init__(self, catalog) -> None:
        self.catalog = catalog
        self._samples: dict[tuple, object] = {}

    def samples(self, imp):
        from surgiplan.core.planning.interference import ImplantSamples

        key = (imp.catalog_id, imp.size, tuple(sorted((imp.options or {}).items())))
        s = self._samples.get(key)
        if s is None:
            geom = self.catalog.get(imp.catalog_id).geometry(imp.size, imp.options or None)
            s = self._samples[key] = ImplantSamples.from_meshes(geom.contact())
        return s

    @staticmethod
    def ready_field(case, bone: str):
        """The bone's field when already computed (never computes it here)."""
        hit = case.__dict__.get("_bone_fields", {}).get(bone)
        if hit is None:
            return None
        try:
            mesh = case.get_model(bone)
        except Exception:  # noqa: BLE001 - model removed meanwhile
            return None
        return hit[1] if hit[0] is mesh else None

    def missing_fields(self, case, plan_name: str) -> list[str]:
        bones = {i.bone for i in case.plan(plan_name).implants.values() if i.bone in case.model_names}
        return sorted(b for b in bones if self.ready_field(case, b) is None)

    def rows(self, case, plan_name: str) -> list:
        """:class:`MeasurementResult` rows: volume (mm^3) and depth / gap (mm) per implant."""
        from surgiplan.core.planning.interference import interference
        from surgiplan.core.planning.measurements.base import MeasurementResult

        out = []
        for imp in case.plan(plan_name).implants.values():
            if not imp.bone or imp.bone not in case.model_names:
                continue
            name = f"Interference {imp.id} / {imp.bone}"
            field = self.ready_field(case, imp.bone)
            if field is None:
                why = f"the {imp.bone} distance field is computed when the 3D handles are switched on"
                out.append(MeasurementResult(f"interference_{imp.id}_volume", f"{name}: volume", None,
                                             "mm^3", VOLUME_DEF, missing=why))
                continue
            res = interference(field, self.samples(imp), imp.transform)
            depth = res.max_penetration_mm if res.penetration_volume_mm3 > 0 else -res.min_distance_mm
            out.append(MeasurementResult(f"interference_{imp.id}_volume", f"{name}: volume",
                                         float(res.penetration_volume_mm3), "mm^3", VOLUME_DEF))
            out.append(MeasurementResult(f"interference_{imp.id}_depth", f"{name}: depth / gap",
                                         float(depth), "mm", DEPTH_DEF))
        return out
