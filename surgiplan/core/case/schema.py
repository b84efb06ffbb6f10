"""The versioned schema of ``case.json`` and ``plans/<plan>/plan.json`` (pydantic).

``SCHEMA_VERSION`` is written into every file. A file with a higher version (a
newer surgiplan), without a version, with invalid JSON or with values that do
not validate is refused with a :class:`CaseFormatError` that names the file and
the offending field; reading never writes.

Positions are LPS mm, directions are unit LPS vectors, transforms are rigid 4x4
matrices mapping the implant's own frame (mm) to LPS mm, angles are degrees.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from surgiplan.core.errors import CaseFormatError

SCHEMA_VERSION = 1
CASE_FORMAT = "surgiplan-case"
PLAN_FORMAT = "surgiplan-plan"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}$")

Vec3 = tuple[float, float, float]


def check_name(name: str, what: str = "name") -> str:
    """A plan/scan/model name usable as a folder name: letters, digits, space . _ + -, <= 64 chars."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name or name.endswith((" ", ".")):
        raise ValueError(
            f"{what} {name!r} is not allowed: use 1-64 letters, digits, spaces or . _ + - "
            "(starting with a letter or digit, no '..')"
        )
    return name


def check_relpath(p: str) -> str:
    """A path inside the case folder: relative, forward slashes, no '..'."""
    if not isinstance(p, str) or not p or p.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", p):
        raise ValueError(f"path {p!r} must be relative to the case folder")
    if any(part in ("..", "") for part in p.split("/")) or "\\" in p:
        raise ValueError(f"path {p!r} must stay inside the case folder (no '..', forward slashes)")
    return p


Name = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class LockInfo(_Strict):
    """Approval of a plan: who locked it and when (ISO 8601 UTC)."""

    by: str = Field(min_length=1)
    at: str = Field(min_length=1)
    note: str = ""


class LandmarkModel(_Strict):
    """A named point (LPS mm), optionally with a unit direction (an axis landmark)."""

    position: Vec3
    direction: Vec3 | None = None
    source: Literal["manual", "fitted", "ground_truth", "imported"] = "manual"
    definition: str = ""

    @field_validator("position", "direction")
    @classmethod
    def _finite(cls, v):
        if v is not None and not all(np.isfinite(v)):
            raise ValueError("coordinates must be finite numbers (mm)")
        return v


class ImplantModel(_Strict):
    """One placed implant: catalog id + size and its rigid 4x4 transform (own frame -> LPS mm)."""

    id: Name
    catalog_id: str = Field(min_length=1)
    size: str = Field(min_length=1)
    transform: list[list[float]]
    side: Literal["left", "right", "none"] = "none"
    bone: str = ""
    options: dict[str, float | str] = Field(default_factory=dict)

    @field_validator("transform")
    @classmethod
    def _rigid(cls, v):
        a = np.asarray(v, dtype=float)
        if a.shape != (4, 4) or not np.all(np.isfinite(a)):
            raise ValueError(f"transform must be a 4x4 matrix of finite numbers, got shape {a.shape}")
        r = a[:3, :3]
        if np.abs(r.T @ r - np.eye(3)).max() > 1e-6 or abs(np.linalg.det(r) - 1) > 1e-6:
            raise ValueError("transform is not rigid (rotation not orthonormal with determinant +1)")
        if np.abs(a[3] - [0, 0, 0, 1]).max() > 1e-9:
            raise ValueError("transform's last row must be 0 0 0 1")
        return v


class ResectionModel(_Strict):
    """A planar cut of a bone model: plane point (LPS mm) and unit normal pointing to the kept side."""

    name: Name
    model: str
    origin: Vec3
    normal: Vec3


class ManualMeasurementModel(_Strict):
    """A measurement taken by hand (ruler, angle, diameter): clicked points (LPS mm) and the value.

    See :mod:`surgiplan.core.planning.measurements.manual` for how the value follows from the points.
    """

    name: Name
    kind: Literal["ruler", "angle", "diameter"]
    points: list[Vec3] = Field(min_length=2, max_length=64)
    value: float
    unit: Literal["mm", "deg"]
    method: str = ""
    view: str = ""

    @field_validator("points")
    @classmethod
    def _finite_points(cls, v):
        if not np.all(np.isfinite(np.asarray(v, dtype=float))):
            raise ValueError("points must be finite numbers (LPS mm)")
        return v


class PlanModel(_Strict):
    """Contents of ``plans/<plan>/plan.json``."""

    format: Literal["surgiplan-plan"] = PLAN_FORMAT
    schema_version: int
    name: Name
    note: str = ""
    created: str = ""
    modified: str = ""
    locked: LockInfo | None = None
    implants: list[ImplantModel] = Field(default_factory=list)
    landmarks: dict[str, LandmarkModel] = Field(default_factory=dict)
    resections: list[ResectionModel] = Field(default_factory=list)
    measurements: dict[str, Any] = Field(default_factory=dict)
    #: measurements taken by hand (optional: plans written before it have none)
    manual_measurements: list[ManualMeasurementModel] = Field(default_factory=list)

    _n = field_validator("name")(lambda cls, v: check_name(v, "plan name"))


class PatientRef(_Strict):
    name: str = ""
    id: str = ""


class ScanModel(_Strict):
    """A scan of the case timeline; the first is the planning scan."""

    name: Name
    kind: Literal["planning", "post-op", "follow-up"] = "planning"
    date: str = ""
    series_uid: str = ""
    study_uid: str = ""
    volume: str
    segmentation: str | None = None
    to_planning: str | None = None

    _n = field_validator("name")(lambda cls, v: check_name(v, "scan name"))
    _p = field_validator("volume", "segmentation", "to_planning")(
        lambda cls, v: None if v is None else check_relpath(v)
    )


class ModelRef(_Strict):
    """A surface model file ``models/<name>.vtp`` (LPS mm) and where it came from."""

    name: Name
    path: str
    scan: str = ""
    segment: str = ""

    _n = field_validator("name")(lambda cls, v: check_name(v, "model name"))
    _p = field_validator("path")(lambda cls, v: check_relpath(v))


class PlanRef(_Strict):
    name: Name
    path: str

    _n = field_validator("name")(lambda cls, v: check_name(v, "plan name"))
    _p = field_validator("path")(lambda cls, v: check_relpath(v))


class StudyRef(_Strict):
    name: Name
    path: str
    plan: str = ""

    _p = field_validator("path")(lambda cls, v: check_relpath(v))


class CaseModel(_Strict):
    """Contents of ``case.json``."""

    format: Literal["surgiplan-case"] = CASE_FORMAT
    schema_version: int
    name: Name
    created: str = ""
    modified: str = ""
    patient: PatientRef = Field(default_factory=PatientRef)
    scans: list[ScanModel] = Field(default_factory=list)
    models: list[ModelRef] = Field(default_factory=list)
    landmarks: dict[str, LandmarkModel] = Field(default_factory=dict)
    plans: list[PlanRef] = Field(default_factory=list)
    studies: list[StudyRef] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)


def _describe(err: ValidationError, limit: int = 5) -> str:
    parts = []
    for e in err.errors()[:limit]:
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        parts.append(f"{loc}: {e['msg']}")
    more = len(err.errors()) - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


#: Largest case.json / plan.json read (bytes); real ones are kilobytes.
MAX_JSON_BYTES = 64 * 1024 * 1024


def _read_json(path: Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CaseFormatError(f"{what} not found", path=path, hint="Check the case folder path.")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise CaseFormatError(f"{what} is {size / 1e6:.0f} MB, more than any real one "
                              f"({MAX_JSON_BYTES / 1e6:.0f} MB at most)", path=path,
                              hint="It is damaged or not a surgiplan file; nothing was changed.")
    raw = path.read_bytes()
    if not raw.strip():
        raise CaseFormatError(f"{what} is empty (damaged or cut short)", path=path,
                              hint="Restore it from a backup or an autosave; nothing was changed.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CaseFormatError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})", path=path,
                              hint="It is damaged or not a surgiplan file; nothing was changed.") from None
    except json.JSONDecodeError as exc:
        raise CaseFormatError(
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", path=path,
            hint="It is damaged or cut short; restore it from a backup or an autosave. Nothing was changed.",
        ) from None
    except RecursionError:
        raise CaseFormatError(f"{what} is nested too deeply to be a surgiplan file", path=path,
                              hint="It is damaged or hostile; nothing was changed.") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise CaseFormatError(f"{what} holds a value surgiplan cannot read ({str(exc)[:120]})",
                              path=path, hint="It is damaged or hostile; nothing was changed.") from None
    if not isinstance(data, dict):
        raise CaseFormatError(f"{what} must hold a JSON object, found {type(data).__name__}", path=path,
                              hint="It is not a surgiplan file; nothing was changed.")
    return data


def _check_version(data: dict, path: Path, what: str, fmt: str) -> None:
    if data.get("format", fmt) != fmt:
        raise CaseFormatError(f"{what} has format {data.get('format')!r}, expected {fmt!r}", path=path,
                              hint="It is not a surgiplan file; nothing was changed.")
    v = data.get("schema_version")
    if v is None:
        raise CaseFormatError(f"{what} has no schema_version", path=path,
                              hint="It is not a surgiplan file or is damaged; nothing was changed.")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise CaseFormatError(f"{what} has an invalid schema_version {v!r} (expected a positive integer)",
                              path=path, hint="The file is damaged; nothing was changed.")
    if v > SCHEMA_VERSION:
        raise CaseFormatError(
            f"{what} was written by a newer surgiplan (schema version {v}; this version reads up to "
            f"{SCHEMA_VERSION})", path=path,
            hint="Open it with a newer surgiplan; it was not changed.",
        )


def load_case_json(path: Path) -> CaseModel:
    """Read and validate ``case.json``; CaseFormatError naming the file and field otherwise."""
    data = _read_json(path, "case.json")
    _check_version(data, path, "case.json", CASE_FORMAT)
    try:
        return CaseModel.model_validate(data)
    except ValidationError as exc:
        raise CaseFormatError(f"case.json does not match the case schema: {_describe(exc)}", path=path,
                              hint="Fix or restore the file; nothing was changed.") from None


def load_plan_json(path: Path) -> PlanModel:
    """Read and validate a ``plan.json``."""
    data = _read_json(path, "plan.json")
    _check_version(data, path, "plan.json", PLAN_FORMAT)
    try:
        return PlanModel.model_validate(data)
    except ValidationError as exc:
        raise CaseFormatError(f"plan.json does not match the plan schema: {_describe(exc)}", path=path,
                              hint="Fix or restore the file; nothing was changed.") from None


def to_json_text(model: BaseModel) -> str:
    """Stable, human-readable JSON (floats written with full precision: exact round trip)."""
    return json.dumps(model.model_dump(mode="json"), indent=1, sort_keys=False) + "\n"
