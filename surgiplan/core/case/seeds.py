"""Seed points of a scan's segmentation, kept with the case: ``scans/<scan>/segmentation.seeds.json``.

The seeds a user clicks for "separate touching bones" (one list of points per
target structure) are working data of the segmentation, not of a plan. They
live in a sidecar file beside ``segmentation.seg.nrrd`` rather than in
``case.json`` so that the case schema (and its version) stays as it is: older
surgiplan versions simply ignore the file. Format::

    {"format": "surgiplan-seeds", "schema_version": 1, "scan": "planning",
     "frame": "LPS", "unit": "mm",
     "seeds": {"femur_right": [[x, y, z], ...], "pelvis": [[x, y, z]]}}

Points are LPS millimetres. Reading validates everything (a damaged, cut-short,
newer or hostile file is refused with a :class:`CaseFormatError` naming it) and
never writes; writing is atomic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from surgiplan.core.errors import CaseFormatError, InputError

SEEDS_FORMAT = "surgiplan-seeds"
SEEDS_VERSION = 1
SEEDS_FILE = "segmentation.seeds.json"
MAX_SEEDS_PER_TARGET = 10_000

Vec3 = tuple[float, float, float]


class SeedsModel(BaseModel):
    """Contents of ``segmentation.seeds.json``."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["surgiplan-seeds"] = SEEDS_FORMAT
    schema_version: int
    scan: str = ""
    frame: Literal["LPS"] = "LPS"
    unit: Literal["mm"] = "mm"
    seeds: dict[str, list[Vec3]] = Field(default_factory=dict)

    @field_validator("seeds")
    @classmethod
    def _check(cls, v):
        for name, pts in v.items():
            if not name.strip() or len(name) > 128:
                raise ValueError(f"target name {name!r} must be 1-128 characters")
            if len(pts) > MAX_SEEDS_PER_TARGET:
                raise ValueError(f"target {name!r} has {len(pts)} seeds (at most {MAX_SEEDS_PER_TARGET})")
            if not np.all(np.isfinite(np.asarray(pts, float))):
                raise ValueError(f"seeds of {name!r} must be finite numbers (mm)")
        return v


def seeds_path(case_root: Path, scan: str) -> Path:
    """The sidecar of scan ``scan``'s segmentation."""
    return Path(case_root) / "scans" / scan / SEEDS_FILE


def check_seeds(seeds: dict) -> dict[str, np.ndarray]:
    """Seeds as ``{target: (n, 3) float array, LPS mm}``; InputError naming the bad target otherwise.

    Targets without points are dropped.
    """
    out: dict[str, np.ndarray] = {}
    for name, pts in seeds.items():
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise InputError(f"seed target name {name!r} must be 1-128 characters")
        a = np.asarray(pts, dtype=float)
        if a.size == 0:
            continue
        if a.ndim != 2 or a.shape[1] != 3 or not np.all(np.isfinite(a)):
            raise InputError(f"seeds of {name!r} must be finite LPS points (n x 3, mm), got shape {a.shape}")
        if len(a) > MAX_SEEDS_PER_TARGET:
            raise InputError(f"seeds of {name!r}: {len(a)} points, at most {MAX_SEEDS_PER_TARGET}")
        out[name] = a.copy()
    return out


def read_seeds(path: Path) -> dict[str, np.ndarray]:
    """Read a seeds sidecar: ``{target: (n, 3) LPS mm}``; CaseFormatError naming the file otherwise."""
    from surgiplan.core.case.schema import _describe, _read_json

    path = Path(path)
    data = _read_json(path, SEEDS_FILE)
    fmt = data.get("format", SEEDS_FORMAT)
    if fmt != SEEDS_FORMAT:
        raise CaseFormatError(f"{SEEDS_FILE} has format {fmt!r}, expected {SEEDS_FORMAT!r}", path=path,
                              hint="It is not a surgiplan seeds file; nothing was changed.")
    v = data.get("schema_version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise CaseFormatError(f"{SEEDS_FILE} has no valid schema_version ({v!r})", path=path,
                              hint="The file is damaged; delete it to drop the seeds. Nothing was changed.")
    if v > SEEDS_VERSION:
        raise CaseFormatError(f"{SEEDS_FILE} was written by a newer surgiplan (version {v}; this version "
                              f"reads up to {SEEDS_VERSION})", path=path,
                              hint="Open the case with a newer surgiplan; the file was not changed.")
    try:
        m = SeedsModel.model_validate(data)
    except ValidationError as exc:
        raise CaseFormatError(f"{SEEDS_FILE} does not match the seeds format: {_describe(exc)}", path=path,
                              hint="Fix or delete the file (the seeds are lost); nothing was changed.") from None
    return {n: np.asarray(p, float).reshape(-1, 3) for n, p in m.seeds.items() if p}


def seeds_text(seeds: dict[str, np.ndarray], scan: str) -> str:
    """The sidecar's JSON text (floats at full precision: exact round trip)."""
    m = SeedsModel(schema_version=SEEDS_VERSION, scan=scan,
                   seeds={n: [tuple(float(x) for x in p) for p in np.asarray(pts, float).reshape(-1, 3)]
                          for n, pts in seeds.items()})
    return json.dumps(m.model_dump(mode="json"), indent=1) + "\n"
