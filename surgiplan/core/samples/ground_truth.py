"""Ground truth of a digital patient: labels, landmarks, axes and quantities with definitions.

Written as ``ground_truth/ground_truth.json``::

    {"name", "size", "seed", "generator_version", "frame": "LPS",
     "units": {"position": "mm", "angle": "deg", "volume": "mL", "percent": "%"},
     "grid": {"shape_ijk", "spacing_mm", "origin_mm", "direction"},
     "labels": {"1": {"name": "pelvis", "color": [r, g, b]}, ...},
     "landmarks": {key: {"position": [x, y, z], "definition": str}},
     "axes": {key: {"point": [x, y, z], "direction": [dx, dy, dz], "definition": str}},
     "quantities": {key: {"value": v, "unit": "mm" | "deg" | "mL" | "%", "definition": str}}}

Positions in LPS mm, directions unit vectors in LPS, angles in degrees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError

UNITS = {"position": "mm", "angle": "deg", "volume": "mL", "percent": "%", "length": "mm"}
ALLOWED_UNITS = ("mm", "deg", "mL", "%", "mm2", "HU")


def _r(v, nd: int = 4):
    return [round(float(x), nd) for x in np.asarray(v, float).ravel()]


@dataclass
class Truth:
    """Accumulates the ground truth of one sample while its anatomy is built."""

    labels: dict[int, tuple[str, tuple[int, int, int]]] = field(default_factory=dict)
    landmarks: dict[str, dict] = field(default_factory=dict)
    axes: dict[str, dict] = field(default_factory=dict)
    quantities: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def label(self, value: int, name: str, color: tuple[int, int, int]) -> int:
        if value in self.labels:
            raise ValueError(f"label {value} defined twice")
        self.labels[value] = (name, color)
        return value

    def landmark(self, key: str, position, definition: str) -> np.ndarray:
        self.landmarks[key] = {"position": _r(position), "definition": definition}
        return np.asarray(position, float)

    def axis(self, key: str, point, direction, definition: str) -> None:
        d = np.asarray(direction, float)
        d = d / np.linalg.norm(d)
        self.axes[key] = {"point": _r(point), "direction": _r(d, 6), "definition": definition}

    def quantity(self, key: str, value: float, unit: str, definition: str) -> float:
        if unit not in ALLOWED_UNITS:
            raise ValueError(f"unknown unit {unit}")
        self.quantities[key] = {"value": round(float(value), 4), "unit": unit, "definition": definition}
        return float(value)

    def labels_json(self) -> dict:
        return {str(v): {"name": n, "color": list(c)} for v, (n, c) in sorted(self.labels.items())}

    def to_dict(self, *, name: str, size: str, seed: int, version: str, grid) -> dict:
        return {
            "name": name,
            "size": size,
            "seed": int(seed),
            "generator_version": version,
            "frame": "LPS",
            "units": dict(UNITS),
            "grid": {
                "shape_ijk": [int(grid.shape[2]), int(grid.shape[1]), int(grid.shape[0])],
                "spacing_mm": _r(grid.spacing, 6),
                "origin_mm": _r(grid.origin, 6),
                "direction": [_r(np.asarray(grid.direction)[:, c], 6) for c in range(3)],
                "direction_note": "direction[c] is the LPS unit vector of index axis c (i, j, k)",
            },
            "labels": self.labels_json(),
            "landmarks": self.landmarks,
            "axes": self.axes,
            "quantities": self.quantities,
            "notes": self.notes,
        }


def write_json(data: dict, path: Path) -> Path:
    """Write ``data`` as indented JSON through the one write path (``core.fileio``)."""
    from surgiplan.core.fileio import atomic_write_text

    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_ground_truth(path: str | Path) -> dict:
    """Read and check a ground_truth.json; :class:`InputError` naming the file if damaged."""
    path = Path(path)
    if not path.is_file():
        raise InputError("ground truth file not found", path=path,
                         hint="Generate the sample with `surgiplan samples NAME`.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", path=path,
                         hint="Regenerate the sample with `surgiplan samples NAME`.") from None
    missing = [k for k in ("name", "frame", "labels", "landmarks", "axes", "quantities")
               if not isinstance(data, dict) or k not in data]
    if missing:
        raise InputError(f"not a surgiplan ground truth (missing {', '.join(missing)})", path=path,
                         hint="Regenerate the sample with `surgiplan samples NAME`.")
    if data["frame"] != "LPS":
        raise InputError(f"unexpected frame {data['frame']!r} (expected 'LPS')", path=path)
    return data
