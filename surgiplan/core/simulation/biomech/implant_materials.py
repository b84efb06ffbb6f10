"""The implant materials table (``resources/materials/implant_materials.json``) with its sources."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from surgiplan.core.errors import InputError


def materials_path() -> Path:
    from surgiplan.core.planning.catalog.loader import resources_dir

    return resources_dir() / "materials" / "implant_materials.json"


@dataclass(frozen=True)
class ImplantMaterial:
    """One material: moduli and strengths in MPa (None: not looked up), and where they come from."""

    key: str
    name: str
    youngs_modulus_MPa: float | None
    poissons_ratio: float | None
    yield_strength_MPa: float | None
    fatigue_strength_MPa: float | None
    sources: dict
    match: tuple[str, ...] = ()

    def require(self, *fields: str) -> None:
        missing = [f for f in fields if getattr(self, f) is None]
        if missing:
            raise InputError(f"the materials table gives no {', '.join(missing)} for {self.name}",
                             path=materials_path(), hint="Fill the value (with its source) in the table.")


@lru_cache(maxsize=1)
def load_materials(path: str | None = None) -> dict[str, ImplantMaterial]:
    """All materials of the table, by key (``Ti-6Al-4V``, ``CoCrMo``, ...)."""
    p = Path(path) if path else materials_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        out = {}
        for key, m in data["materials"].items():
            out[key] = ImplantMaterial(key, m["name"], m["youngs_modulus_MPa"], m["poissons_ratio"],
                                       m["yield_strength_MPa"], m["fatigue_strength_MPa"], m.get("sources", {}),
                                       tuple(m.get("match", ())))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read the implant materials table ({exc})", path=p,
                         hint="Restore resources/materials/implant_materials.json.") from None
    return out


def material_for(description: str) -> ImplantMaterial:
    """The table's material named in a catalog ``material`` text (e.g. 'Ti-6Al-4V, proximal HA coating')."""
    text = description.lower()
    for m in load_materials().values():
        if any(k in text for k in m.match):
            return m
    raise InputError(f"no material of the table matches the implant material {description!r}",
                     path=materials_path(), hint="Add it to the table or name a known alloy in the catalog.")
