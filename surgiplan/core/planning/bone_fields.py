"""One precomputed :class:`BoneField` per bone model of an open case (for dragging)."""

from __future__ import annotations

from surgiplan.core.jobs import Progress
from surgiplan.core.planning.interference import BoneField


def bone_field(case, model_name: str, progress: Progress | None = None) -> BoneField:
    """The bone's signed distance field, computed once per model object and cached on the case."""
    cache = case.__dict__.setdefault("_bone_fields", {})
    mesh = case.get_model(model_name)
    hit = cache.get(model_name)
    if hit is not None and hit[0] is mesh:
        return hit[1]
    field = BoneField(mesh, progress=progress)
    cache[model_name] = (mesh, field)
    return field


def plan_interference(case, plan_name: str, catalog=None) -> dict[str, dict]:
    """Interference of every implant of a plan that names its ``bone`` model.

    Returns ``{implant_id: {"bone", "penetration_volume_mm3", "min_distance_mm",
    "max_penetration_mm", ...}}`` (contact parts only, e.g. a screw's shank).
    """
    from surgiplan.core.planning.catalog import default_catalog
    from surgiplan.core.planning.interference import ImplantSamples, interference

    catalog = catalog or default_catalog()
    out: dict[str, dict] = {}
    for imp in case.plan(plan_name).implants.values():
        if not imp.bone or imp.bone not in case.model_names:
            continue
        geom = catalog.get(imp.catalog_id).geometry(imp.size, imp.options)
        samples = ImplantSamples.from_meshes(geom.contact())
        res = interference(bone_field(case, imp.bone), samples, imp.transform)
        out[imp.id] = {"bone": imp.bone, **res.to_dict()}
    return out
