"""The implant catalog: JSON files in ``resources/implants/`` plus user implants.

Built-in families are ``resources/implants/*.json`` (format
``surgiplan-implant-catalog``), each implant with its material, anchor frame,
sizes (parameters in mm / degrees) and the name of a parametric generator.

A user adds an implant without code by dropping a mesh (STL/OBJ/PLY/VTP, in mm,
in the implant's own anchor frame) and a JSON *sidecar* of the same stem into
the user implant folder (``platformdirs.user_data_dir("surgiplan")/implants``,
or ``SURGIPLAN_IMPLANT_DIR``), or passing ``extra_dirs``::

    {"format": "surgiplan-implant", "schema_version": 1,
     "id": "my_cage", "name": "Interbody cage", "kind": "cage", "anatomy": "spine",
     "material": "PEEK",
     "anchor": {"origin": "centre of the cage", "axes": {"z": "cranial"},
                "points": {"centre": [0, 0, 0]}},
     "sizes": {"10": {"mesh": "my_cage_10.stl"}, "12": {"mesh": "my_cage_12.stl", "scale": 1.0}}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from surgiplan.core.errors import InputError
from surgiplan.core.planning.catalog.generators import GENERATORS
from surgiplan.core.planning.transforms import apply

MESH_SUFFIXES = (".stl", ".obj", ".ply", ".vtp", ".vtk")


def resources_dir() -> Path:
    """``resources/`` of the checkout (``SURGIPLAN_RESOURCES`` overrides it)."""
    env = os.environ.get("SURGIPLAN_RESOURCES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[4] / "resources"


def user_implant_dir() -> Path:
    env = os.environ.get("SURGIPLAN_IMPLANT_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("surgiplan", appauthor=False)) / "implants"


class Anchor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    origin: str
    axes: dict[str, str] = Field(default_factory=dict)
    points: list[str] | dict[str, tuple[float, float, float]] = Field(default_factory=list)


class ImplantSpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    kind: str
    anatomy: str
    material: str
    generator: str | None = None
    anchor: Anchor
    bone_contact_parts: list[str] | None = None
    options: dict[str, str] = Field(default_factory=dict)
    sizes: dict[str, dict[str, Any]] = Field(min_length=1)


@dataclass
class ImplantGeometry:
    """Meshes of one implant size in its own frame (mm) with named anchor points/axes."""

    parts: dict[str, pv.PolyData]
    anchors: dict[str, np.ndarray]
    contact_parts: tuple[str, ...] = ()

    def merged(self) -> pv.PolyData:
        """All parts as one triangle mesh (for display and distance queries)."""
        return pv.merge(list(self.parts.values())) if len(self.parts) > 1 else next(iter(self.parts.values()))

    def contact(self) -> list[pv.PolyData]:
        """The parts that touch bone (all when not stated)."""
        names = self.contact_parts or tuple(self.parts)
        return [self.parts[n] for n in names if n in self.parts]

    def transformed(self, t: np.ndarray) -> ImplantGeometry:
        """A copy moved by the 4x4 ``t`` (own frame -> LPS)."""
        parts = {k: m.transform(t, inplace=False) for k, m in self.parts.items()}
        anchors = {}
        for k, v in self.anchors.items():
            anchors[k] = (v @ t[:3, :3].T) if k.endswith("axis") else apply(t, v)
        return ImplantGeometry(parts, anchors, self.contact_parts)


@dataclass
class ImplantSpec:
    """One catalog implant family (all its sizes)."""

    model: ImplantSpecModel
    source: Path
    catalog: Catalog | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def sizes(self) -> list[str]:
        return list(self.model.sizes)

    def size(self, size: str) -> dict[str, Any]:
        """Parameters of ``size`` (mm, degrees); InputError listing the sizes otherwise."""
        try:
            return self.model.sizes[str(size)]
        except KeyError:
            raise InputError(f"implant {self.id!r} has no size {size!r} (sizes: "
                             f"{', '.join(self.sizes)})", path=self.source) from None

    def geometry(self, size: str, options: dict | None = None) -> ImplantGeometry:
        """Meshes and anchors of ``size`` in the implant frame (mm); cached."""
        self.size(size)
        key = json.dumps(options or {}, sort_keys=True)
        return _geometry_cached(self, str(size), key)

    def describe(self) -> dict[str, Any]:
        d = self.model.model_dump()
        d["source"] = str(self.source)
        return d

    def __hash__(self) -> int:
        return hash((self.id, str(self.source)))


@lru_cache(maxsize=256)
def _geometry_cached(spec: ImplantSpec, size: str, options_json: str) -> ImplantGeometry:
    p = spec.size(size)
    options = json.loads(options_json)
    contact = tuple(spec.model.bone_contact_parts or ())
    if spec.model.generator:
        parts, anchors = GENERATORS[spec.model.generator](p, options, spec.catalog)
        return ImplantGeometry(parts, anchors, contact)
    mesh_path = spec.source.parent / p["mesh"]
    try:
        mesh = pv.read(str(mesh_path))
    except Exception as exc:  # noqa: BLE001 - VTK readers raise various errors
        raise InputError(f"implant mesh cannot be read ({exc})", path=mesh_path,
                         hint="Export it again as binary STL in mm.") from None
    if not isinstance(mesh, pv.PolyData):
        mesh = mesh.extract_surface()
    mesh = mesh.triangulate().clean()
    if mesh.n_cells == 0:
        raise InputError("implant mesh has no triangles", path=mesh_path)
    scale = float(p.get("scale", 1.0))
    if scale != 1.0:
        mesh = mesh.scale(scale, inplace=False)
    pts = spec.model.anchor.points
    anchors = {k: np.asarray(v, float) for k, v in pts.items()} if isinstance(pts, dict) else {}
    anchors.setdefault("centre", np.zeros(3))
    anchors.setdefault("axis", np.array([0.0, 0, 1]))
    return ImplantGeometry({spec.id: mesh}, anchors, contact)


class Catalog:
    """All implant families by id."""

    def __init__(self, specs: dict[str, ImplantSpec], warnings: list[str] | None = None):
        self.specs = specs
        self.warnings = warnings or []
        for s in specs.values():
            s.catalog = self

    def get(self, implant_id: str) -> ImplantSpec:
        try:
            return self.specs[implant_id]
        except KeyError:
            raise InputError(f"no implant {implant_id!r} in the catalog (have: "
                             f"{', '.join(sorted(self.specs))})") from None

    def ids(self, anatomy: str | None = None) -> list[str]:
        return [k for k, s in self.specs.items() if anatomy is None or s.model.anatomy == anatomy]

    def __contains__(self, implant_id: str) -> bool:
        return implant_id in self.specs


def _validate(obj: dict, path: Path) -> ImplantSpecModel:
    try:
        spec = ImplantSpecModel.model_validate(obj)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        raise InputError(f"implant description is invalid at {loc}: {e['msg']}", path=path,
                         hint="Fix the JSON; see resources/implants/README.md.") from None
    if spec.generator is not None and spec.generator not in GENERATORS:
        raise InputError(f"implant {spec.id!r}: unknown generator {spec.generator!r} "
                         f"(known: {', '.join(GENERATORS)})", path=path)
    if spec.generator is None:
        for size, p in spec.sizes.items():
            mesh = p.get("mesh")
            if not isinstance(mesh, str) or Path(mesh).suffix.lower() not in MESH_SUFFIXES:
                raise InputError(f"implant {spec.id!r} size {size!r} needs a 'mesh' file "
                                 f"({', '.join(MESH_SUFFIXES)}) next to the sidecar", path=path)
            if Path(mesh).name != mesh:
                raise InputError(f"implant {spec.id!r}: mesh {mesh!r} must be a file name in the "
                                 "sidecar's folder", path=path)
            if not (path.parent / mesh).is_file():
                raise InputError(f"implant {spec.id!r} size {size!r}: mesh file {mesh} not found",
                                 path=path)
    return spec


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"implant file is not valid JSON ({exc})", path=path) from None


def load_catalog_file(path: Path) -> list[ImplantSpec]:
    """Implants of one catalog file or user sidecar."""
    data = _read(path)
    if not isinstance(data, dict):
        raise InputError("implant file must hold a JSON object", path=path)
    fmt = data.get("format")
    if data.get("schema_version") != 1:
        raise InputError(f"implant file has schema_version {data.get('schema_version')!r}; this "
                         "surgiplan reads version 1", path=path)
    if fmt == "surgiplan-implant-catalog":
        return [ImplantSpec(_validate(o, path), path) for o in data.get("implants", [])]
    if fmt == "surgiplan-implant":
        body = {k: v for k, v in data.items() if k not in ("format", "schema_version")}
        return [ImplantSpec(_validate(body, path), path)]
    raise InputError(f"implant file has format {fmt!r}; expected 'surgiplan-implant-catalog' or "
                     "'surgiplan-implant'", path=path)


def load_catalog(extra_dirs: list[Path] | None = None, *, include_user: bool = True) -> Catalog:
    """Built-in catalog plus user sidecars; a bad user file becomes a warning, not a failure."""
    specs: dict[str, ImplantSpec] = {}
    builtin = resources_dir() / "implants"
    for path in sorted(builtin.glob("*.json")):
        for s in load_catalog_file(path):
            specs[s.id] = s
    warnings: list[str] = []
    dirs = list(extra_dirs or [])
    if include_user:
        dirs.append(user_implant_dir())
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.json")):
            try:
                for s in load_catalog_file(path):
                    if s.id in specs:
                        warnings.append(f"{path}: implant id {s.id!r} already exists; skipped")
                        continue
                    specs[s.id] = s
            except InputError as exc:
                warnings.append(str(exc))
    return Catalog(specs, warnings)


_DEFAULT: Catalog | None = None


def default_catalog() -> Catalog:
    """The catalog loaded once per process (built-in + user folder)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_catalog()
    return _DEFAULT
