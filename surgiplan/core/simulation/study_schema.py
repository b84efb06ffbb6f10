"""The study file: a validated JSON description of one simulation.

Example (elasticity, lengths in mm, forces in N, moduli in MPa)::

    {"schema_version": 1, "name": "cantilever", "physics": "elasticity",
     "mesh": {"file": "beam.msh", "unit": "mm"},
     "elasticity": {"degree": 2,
        "materials": [{"region": "all", "youngs_modulus_MPa": 210000, "poissons_ratio": 0.3}],
        "boundary_conditions": [{"type": "fixed", "boundary": "x0"},
                                {"type": "force", "boundary": "x1", "force_N": [0, 0, -100]}]},
     "solver": {"method": "auto"}}

Flow studies are solved in SI units (m, s, Pa); a mesh in mm is scaled on load.
Relative paths are relative to the study file's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from surgiplan.core.errors import InputError

SCHEMA_VERSION = 1
Tag = str | int
Vec3 = tuple[float | None, float | None, float | None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeshSpec(_Model):
    file: str
    unit: Literal["mm", "m"] = "mm"
    tags: dict[str, int] = Field(default_factory=dict, description="extra tag names (XDMF)")
    xdmf_mesh_name: str = "mesh"


class Material(_Model):
    region: Tag = "all"
    youngs_modulus_MPa: float
    poissons_ratio: float = 0.3
    name: str | None = None


class Fixed(_Model):
    type: Literal["fixed"]
    boundary: Tag


class Displacement(_Model):
    type: Literal["displacement"]
    boundary: Tag
    value_mm: Vec3 = Field(description="components; null leaves that component free")


class Traction(_Model):
    type: Literal["traction"]
    boundary: Tag
    traction_MPa: tuple[float, float, float]


class Pressure(_Model):
    type: Literal["pressure"]
    boundary: Tag
    pressure_MPa: float = Field(description="positive pushes into the body (along -n)")


class Force(_Model):
    type: Literal["force"]
    boundary: Tag
    force_N: tuple[float, float, float] = Field(description="total force spread uniformly over the patch")


ElasticBC = Annotated[Fixed | Displacement | Traction | Pressure | Force, Field(discriminator="type")]


class ElasticitySpec(_Model):
    degree: Literal[1, 2] = 1
    materials: list[Material]
    boundary_conditions: list[ElasticBC]
    body_force_N_per_mm3: tuple[float, float, float] | None = None


class Fluid(_Model):
    density_kg_m3: float = 1060.0
    viscosity_Pa_s: float = 0.0035
    model: Literal["newtonian", "carreau_yasuda"] = "newtonian"
    # Carreau-Yasuda blood (Cho & Kensey 1991 via Gijsen 1999 style constants)
    mu0_Pa_s: float = 0.056
    mu_inf_Pa_s: float = 0.00345
    lambda_s: float = 3.313
    n: float = 0.3568
    a: float = 2.0


class Inlet(_Model):
    boundary: Tag
    type: Literal["flow_rate", "pressure"] = "flow_rate"
    flow_rate_mL_s: float | None = None
    pressure_Pa: float | None = None
    profile: Literal["parabolic", "plug"] = "parabolic"
    waveform: list[tuple[float, float]] | None = Field(
        None, description="(t s, factor) pairs over one period, multiplies the value (pulsatile)"
    )
    cosine_amplitude: float | None = Field(
        None, description="pulsatile: value(t) = base * cos(2 pi t / period) when set (Womersley)"
    )

    @model_validator(mode="after")
    def _value(self):
        if self.type == "flow_rate" and self.flow_rate_mL_s is None:
            raise ValueError("a flow_rate inlet needs flow_rate_mL_s")
        if self.type == "pressure" and self.pressure_Pa is None:
            raise ValueError("a pressure inlet needs pressure_Pa")
        return self


class Outlet(_Model):
    boundary: Tag
    type: Literal["traction", "resistance", "windkessel"] = "traction"
    pressure_Pa: float = 0.0
    resistance_Pa_s_m3: float | None = None
    proximal_resistance_Pa_s_m3: float | None = None
    compliance_m3_Pa: float | None = None
    distal_resistance_Pa_s_m3: float | None = None


class Pulsatile(_Model):
    period_s: float
    cycles: int = 5
    steps_per_cycle: int = 48
    probe_points_m: list[tuple[float, float, float]] = Field(default_factory=list)


class FlowSpec(_Model):
    fluid: Fluid = Fluid()
    inlet: Inlet
    outlets: list[Outlet]
    walls: list[Tag]
    pressure_drop_between: tuple[Tag, Tag] | None = None
    reynolds_steps: int = Field(0, description="continuation steps; 0 = automatic")
    convection: bool = Field(True, description="False: (unsteady) Stokes flow")
    backflow_stabilization: Literal["tangential", "full", "none"] = "tangential"
    pulsatile: Pulsatile | None = None
    probe_points_m: list[tuple[float, float, float]] = Field(default_factory=list)


class SolverSpec(_Model):
    method: Literal["auto", "direct", "iterative"] = "auto"
    direct_max_dofs: int = 150_000
    rtol: float = 1e-10
    max_iterations: int = 2000
    newton_rtol: float = 1e-9
    newton_max_iterations: int = 25
    petsc_options: dict[str, str | int | float] = Field(default_factory=dict)


class Outputs(_Model):
    xdmf: bool = True
    fields: list[str] = Field(default_factory=lambda: ["all"])


class Study(_Model):
    schema_version: int = SCHEMA_VERSION
    name: str = "study"
    physics: Literal["elasticity", "flow"]
    mesh: MeshSpec
    elasticity: ElasticitySpec | None = None
    flow: FlowSpec | None = None
    solver: SolverSpec = SolverSpec()
    outputs: Outputs = Outputs()

    @model_validator(mode="after")
    def _physics_block(self):
        if self.schema_version > SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is newer than this surgiplan "
                             f"({SCHEMA_VERSION})")
        if self.physics == "elasticity" and self.elasticity is None:
            raise ValueError("physics 'elasticity' needs an 'elasticity' block")
        if self.physics == "flow" and self.flow is None:
            raise ValueError("physics 'flow' needs a 'flow' block")
        return self


def load_study(path: str | Path) -> tuple[Study, Path]:
    """Read and validate a study file; returns the study and the absolute mesh path.

    Raises InputError naming the file and the first problems found.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("study file not found", path=path, hint="Check the path.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", path=path, hint="Fix the JSON syntax.") from exc
    try:
        study = Study.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InputError(f"invalid study: {problems}", path=path,
                         hint="See docs/simulation.md for the study format.") from exc
    mesh_path = Path(study.mesh.file)
    if not mesh_path.is_absolute():
        mesh_path = (path.parent / mesh_path).resolve()
    if not mesh_path.is_file():
        raise InputError(f"mesh file {mesh_path} not found", path=path,
                         hint="Fix 'mesh.file' (relative paths start at the study's folder).")
    return study, mesh_path
