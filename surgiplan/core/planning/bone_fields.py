"""One precomputed :class:`BoneField` per bone model of an open case, and implant samples.

Both are derived data cached for interactive use: the field of a bone model is kept in
``case.derived["bone_fields"]`` with the mesh object it was built from (a replaced model
gets a new field); implant samples are kept per catalog entry, size and options.
"""

from __future__ import annotations

from surgiplan.core.jobs import Progress
from surgiplan.core.planning.interference import BoneField, ImplantSamples

_SAMPLES: dict[tuple, ImplantSamples] = {}
_MAX_SAMPLES = 64


def cached_bone_field(case, model_name: str) -> BoneField | None:
    """The bone's field when already built for its current mesh, else None (never builds it)."""
    hit = case.derived.get("bone_fields", {}).get(model_name)
    if hit is None:
        return None
    try:
        mesh = case.get_model(model_name)
    except Exception:  # noqa: BLE001 - model removed meanwhile
        return None
    return hit[1] if hit[0] is mesh else None


def bone_field(case, model_name: str, progress: Progress | None = None) -> BoneField:
    """The bone's signed distance field, built once per model object and cached on the case."""
    cache = case.derived.setdefault("bone_fields", {})
    mesh = case.get_model(model_name)
    hit = cache.get(model_name)
    if hit is not None and hit[0] is mesh:
        return hit[1]
    field = BoneField(mesh, progress=progress)
    cache[model_name] = (mesh, field)
    return field


def missing_bone_fields(case, plan_name: str) -> list[str]:
    """Bone models of the plan's implants whose field is not built yet."""
    bones = {i.bone for i in case.plan(plan_name).implants.values() if i.bone in case.model_names}
    return sorted(b for b in bones if cached_bone_field(case, b) is None)


def implant_samples(catalog, imp) -> ImplantSamples:
    """Surface and interior samples of an implant's contact parts (own frame), cached."""
    key = (id(catalog), imp.catalog_id, imp.size, tuple(sorted((imp.options or {}).items())))
    s = _SAMPLES.get(key)
    if s is None:
        if len(_SAMPLES) >= _MAX_SAMPLES:
            _SAMPLES.pop(next(iter(_SAMPLES)))
        geom = catalog.get(imp.catalog_id).geometry(imp.size, imp.options or None)
        s = _SAMPLES[key] = ImplantSamples.from_meshes(geom.contact())
    return s
