"""Study dictionaries for the simulation tests."""

from __future__ import annotations

import json
from pathlib import Path


def elasticity_study(mesh: Path, **over) -> dict:
    study = {
        "schema_version": 1, "name": "beam", "physics": "elasticity",
        "mesh": {"file": str(mesh), "unit": "mm"},
        "elasticity": {
            "degree": 2,
            "materials": [{"region": "region_a", "youngs_modulus_MPa": 17000, "poissons_ratio": 0.3},
                          {"region": "region_b", "youngs_modulus_MPa": 110000, "poissons_ratio": 0.33}],
            "boundary_conditions": [{"type": "fixed", "boundary": "x0"},
                                    {"type": "force", "boundary": "x1", "force_N": [0, 0, -200]},
                                    {"type": "pressure", "boundary": "z1", "pressure_MPa": 0.5}]},
        "solver": {"method": "direct"},
    }
    study.update(over)
    return study


def flow_study(mesh: Path, **over) -> dict:
    study = {
        "schema_version": 1, "name": "pipe", "physics": "flow",
        "mesh": {"file": str(mesh), "unit": "mm"},
        "flow": {"inlet": {"boundary": "inlet", "flow_rate_mL_s": 5.0},
                 "outlets": [{"boundary": "outlet"}], "walls": ["wall"]},
        "solver": {"method": "direct"},
    }
    study["flow"].update(over.pop("flow", {}))
    study.update(over)
    return study


def write_study(folder: Path, study: dict, name: str = "study.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(study))
    return path
