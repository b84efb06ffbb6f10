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

A study is refused before anything runs when it is physically or numerically
absurd, and the message names the field: NaN or infinite numbers anywhere, a
pulsatile period outside (0, 60] s, more than :data:`MAX_TIME_STEPS` time
steps, a Windkessel or resistance outlet without its values, a value given
that the chosen model would not use, PETSc options that write or read files.
:func:`load_study` also refuses files nested deeper than :data:`MAX_NESTING`,
numbers longer than :data:`MAX_NUMBER_CHARS` characters, repeated keys and
files over :data:`MAX_STUDY_BYTES`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from surgiplan.core.errors import InputError

SCHEMA_VERSION = 1
#: Most time steps (cycles x steps_per_cycle) one pulsatile study may ask for. A cardiac study
#: needs 5-10 cycles of 100-1000 steps (10^4); 10^6 steps of even a small mesh take days.
MAX_TIME_STEPS = 1_000_000
#: Longest pulsatile period accepted (s): a heart beating once a minute.
MAX_PERIOD_S = 60.0
#: Deepest nesting of arrays/objects in a study file (a study needs 5).
MAX_NESTING = 32
#: Longest number literal (characters) in a study file; a double has 17 significant digits.
MAX_NUMBER_CHARS = 64
#: Largest study file read (bytes).
MAX_STUDY_BYTES = 16 << 20
#: Fields written to results.xdmf per physics (``outputs.fields``).
OUTPUT_FIELDS = {
    "elasticity": ("displacement_mm", "von_mises_MPa", "strain_energy_density_mJ_per_mm3",
                   "max_principal_stress_MPa", "min_principal_stress_MPa", "youngs_modulus_MPa"),
    "flow": ("velocity_m_per_s", "pressure_Pa", "wall_shear_stress_Pa"),
}

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _check_tag(value):
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("a tag is a name or a whole number")
    if isinstance(value, str) and not 1 <= len(value) <= 200:
        raise ValueError(f"a tag name has 1 to 200 characters (this one has {len(value)})")
    if isinstance(value, int) and not 0 <= value < 2**31:
        raise ValueError("a tag number is between 0 and 2^31 - 1")
    return value


Tag = Annotated[str | int, BeforeValidator(_check_tag)]


def _bounded(lo: float, hi: float):
    """A finite float in [lo, hi] (the schema refuses NaN and infinities everywhere)."""
    return Annotated[float, Field(ge=lo, le=hi)]


Length_mm = _bounded(-1e4, 1e4)
Force_N = _bounded(-1e9, 1e9)
Stress_MPa = _bounded(-1e6, 1e6)
Vec3 = tuple[Length_mm | None, Length_mm | None, Length_mm | None]
Point_m = tuple[_bounded(-100.0, 100.0), _bounded(-100.0, 100.0), _bounded(-100.0, 100.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    def _given(self, *names: str) -> list[str]:
        return [n for n in names if n in self.model_fields_set]


class MeshSpec(_Model):
    file: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    unit: Literal["mm", "m"] = "mm"
    tags: dict[Name, Annotated[int, Field(ge=0, lt=2**31)]] = Field(
        default_factory=dict, max_length=10_000, description="extra tag names")
    xdmf_mesh_name: Name = "mesh"

    @model_validator(mode="after")
    def _xdmf_only(self):
        if self._given("xdmf_mesh_name") and not self.file.lower().endswith(".xdmf"):
            raise ValueError("xdmf_mesh_name is used only for an .xdmf mesh; remove it")
        return self


class Material(_Model):
    region: Tag = "all"
    youngs_modulus_MPa: float = Field(le=1e7, description="> 0; at most 1e7 MPa (10 TPa)")
    poissons_ratio: float = 0.3
    name: Name | None = None


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
    traction_MPa: tuple[Stress_MPa, Stress_MPa, Stress_MPa]


class Pressure(_Model):
    type: Literal["pressure"]
    boundary: Tag
    pressure_MPa: Stress_MPa = Field(description="positive pushes into the body (along -n)")


class Force(_Model):
    type: Literal["force"]
    boundary: Tag
    force_N: tuple[Force_N, Force_N, Force_N] = Field(description="total force spread uniformly over the patch")


ElasticBC = Annotated[Fixed | Displacement | Traction | Pressure | Force, Field(discriminator="type")]


class CtMaterial(_Model):
    """Bone modulus mapped from a CT (see :mod:`surgiplan.core.simulation.biomech.bone_material`).

    The cells of ``region`` get E integrated over each cell from ``volume`` (HU) by the chain
    HU -> rho_QCT (linear calibration) -> rho_ash -> rho_app -> E (``law``), at least
    ``min_modulus_MPa``; their Poisson ratio is ``poissons_ratio``. Overrides ``materials`` there.
    """

    volume: Annotated[str, StringConstraints(min_length=1, max_length=4096)] = Field(
        description="CT volume file (NRRD/NIfTI/MHA, HU); relative paths start at the study's folder")
    region: Tag = "all"
    law: Literal["morgan2003_femoral_neck", "morgan2003_pooled", "keyak_falkinstein2003",
                 "carter_hayes1977"] = "morgan2003_femoral_neck"
    calibration_slope_g_cm3_per_HU: float = Field(0.0008, gt=0, le=1.0)
    calibration_intercept_g_cm3: float = Field(0.0, ge=-10, le=10)
    ash_slope: float = Field(0.877, gt=0, le=10)
    ash_intercept_g_cm3: float = Field(0.079, ge=-10, le=10)
    ash_to_apparent: float = Field(0.6, gt=0, le=1.0)
    strain_rate_per_s: float = Field(1.0, gt=0, le=1e3)
    min_modulus_MPa: float = Field(10.0, gt=0, le=1e5)
    poissons_ratio: float = Field(0.3, gt=-1, lt=0.5)
    quadrature_degree: int = Field(3, ge=0, le=8)


class ElasticitySpec(_Model):
    degree: Literal[1, 2] = 1
    materials: list[Material] = Field(min_length=1, max_length=1000)
    boundary_conditions: list[ElasticBC] = Field(min_length=1, max_length=1000)
    body_force_N_per_mm3: tuple[_bounded(-1e3, 1e3), _bounded(-1e3, 1e3), _bounded(-1e3, 1e3)] | None = None
    ct_material: CtMaterial | None = None


_CARREAU = ("mu0_Pa_s", "mu_inf_Pa_s", "lambda_s", "n", "a")


class Fluid(_Model):
    density_kg_m3: float = Field(1060.0, gt=0, le=1e5)
    viscosity_Pa_s: float = Field(0.0035, gt=0, le=1e3, description="Newtonian viscosity; the "
                                  "reference viscosity of the Reynolds number for Carreau-Yasuda")
    model: Literal["newtonian", "carreau_yasuda"] = "newtonian"
    # Carreau-Yasuda blood (Cho & Kensey 1991 via Gijsen 1999 style constants)
    mu0_Pa_s: float = Field(0.056, gt=0, le=1e3)
    mu_inf_Pa_s: float = Field(0.00345, gt=0, le=1e3)
    lambda_s: float = Field(3.313, gt=0, le=1e4)
    n: float = Field(0.3568, gt=0, le=10)
    a: float = Field(2.0, gt=0, le=100)

    @model_validator(mode="after")
    def _model_fields(self):
        unused = self._given(*_CARREAU) if self.model == "newtonian" else []
        if unused:
            raise ValueError(f"{', '.join(unused)} are Carreau-Yasuda constants, unused by a newtonian "
                             "fluid; remove them or set model to 'carreau_yasuda'")
        return self


class Inlet(_Model):
    boundary: Tag
    type: Literal["flow_rate", "pressure"] = "flow_rate"
    flow_rate_mL_s: float | None = Field(None, ge=-1e5, le=1e5)
    pressure_Pa: float | None = Field(None, ge=-1e7, le=1e7)
    profile: Literal["parabolic", "plug"] = "parabolic"
    waveform: list[tuple[_bounded(0.0, MAX_PERIOD_S), _bounded(-1e3, 1e3)]] | None = Field(
        None, min_length=1, max_length=100_000,
        description="(t s, factor) pairs over one period, multiplies the value (pulsatile)"
    )
    cosine_amplitude: float | None = Field(
        None, ge=-1e3, le=1e3,
        description="pulsatile: value(t) = base * cos(2 pi t / period) when set (Womersley)"
    )

    @model_validator(mode="after")
    def _value(self):
        if self.type == "flow_rate" and self.flow_rate_mL_s is None:
            raise ValueError("a flow_rate inlet needs flow_rate_mL_s")
        if self.type == "pressure" and self.pressure_Pa is None:
            raise ValueError("a pressure inlet needs pressure_Pa")
        if self.type == "flow_rate" and self.pressure_Pa is not None:
            raise ValueError("pressure_Pa is unused by a flow_rate inlet; remove it or set type 'pressure'")
        if self.type == "pressure" and self._given("flow_rate_mL_s", "profile"):
            raise ValueError(f"{' and '.join(self._given('flow_rate_mL_s', 'profile'))} unused by a "
                             "pressure inlet; remove it or set type 'flow_rate'")
        if self.waveform is not None and self.cosine_amplitude is not None:
            raise ValueError("give either waveform or cosine_amplitude, not both")
        if self.waveform is not None:
            times = [t for t, _ in self.waveform]
            if any(b <= a for a, b in zip(times, times[1:], strict=False)):
                raise ValueError("waveform times must increase strictly")
        return self


_OUTLET_VALUES = {
    "traction": (),
    "resistance": ("resistance_Pa_s_m3",),
    "windkessel": ("proximal_resistance_Pa_s_m3", "compliance_m3_Pa", "distal_resistance_Pa_s_m3"),
}


class Outlet(_Model):
    boundary: Tag
    type: Literal["traction", "resistance", "windkessel"] = "traction"
    pressure_Pa: float = Field(0.0, ge=-1e7, le=1e7)
    resistance_Pa_s_m3: float | None = Field(None, ge=0, le=1e15)
    proximal_resistance_Pa_s_m3: float | None = Field(None, ge=0, le=1e15)
    compliance_m3_Pa: float | None = Field(None, gt=0, le=1.0)
    distal_resistance_Pa_s_m3: float | None = Field(None, gt=0, le=1e15)

    @model_validator(mode="after")
    def _values(self):
        needed = _OUTLET_VALUES[self.type]
        missing = [k for k in needed if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.type} outlet needs {', '.join(missing)}")
        unused = [k for names in _OUTLET_VALUES.values() for k in names
                  if k not in needed and getattr(self, k) is not None]
        if unused:
            raise ValueError(f"{', '.join(unused)} unused by a {self.type} outlet; remove it or change "
                             "the type")
        return self


class Pulsatile(_Model):
    period_s: float = Field(gt=0, le=MAX_PERIOD_S, description="s, in (0, 60]")
    cycles: int = Field(5, ge=1)
    steps_per_cycle: int = Field(48, ge=1)
    probe_points_m: list[Point_m] = Field(
        default_factory=list, max_length=100,
        description="points (m) whose velocity and pressure are recorded over the last cycle")

    @model_validator(mode="after")
    def _budget(self):
        total = self.cycles * self.steps_per_cycle
        if total > MAX_TIME_STEPS:
            raise ValueError(f"cycles x steps_per_cycle = {self.cycles:.3g} x {self.steps_per_cycle:.3g} = "
                             f"{total:.3g} time steps, beyond the budget of {MAX_TIME_STEPS:,} time "
                             "steps per study; use fewer cycles or steps_per_cycle")
        return self


class FlowSpec(_Model):
    fluid: Fluid = Fluid()
    inlet: Inlet
    outlets: list[Outlet] = Field(min_length=1, max_length=1000)
    walls: list[Tag] = Field(min_length=1, max_length=1000)
    pressure_drop_between: tuple[Tag, Tag] | None = None
    reynolds_steps: int = Field(0, ge=0, le=1000, description="continuation steps; 0 = automatic")
    convection: bool = Field(True, description="False: (unsteady) Stokes flow")
    march: Literal["auto", "off", "always"] = Field(
        "auto", description="steady study: 'auto' marches in physical time (backward Euler) where the Reynolds "
        "continuation stalls and reports the steady or the time-averaged flow; 'off' fails there instead; "
        "'always' marches from rest at the inflow (no continuation) and reports the march's time average")
    march_time_step_s: float = Field(0.0, ge=0.0, le=10.0, description="time step of that march (s); 0 = the "
                                     "convective time d / U of the fastest jet")
    march_max_steps: int = Field(400, ge=1, le=20_000, description="step budget of that march")
    backflow_stabilization: Literal["tangential", "full", "none"] = "tangential"
    stabilization: Literal["auto", "supg", "none"] = Field(
        "auto", description="steady solve: consistent SUPG + grad-div ('auto': with convection, Newtonian)")
    pulsatile: Pulsatile | None = None
    probe_points_m: list[Point_m] = Field(
        default_factory=list, max_length=10_000, description="points (m) whose final velocity is reported")

    @model_validator(mode="after")
    def _consistent(self):
        seen = {str(self.inlet.boundary): "inlet"}
        for i, o in enumerate(self.outlets):
            key = str(o.boundary)
            if key in seen:
                raise ValueError(f"outlets.{i}.boundary {o.boundary!r} is already the {seen[key]}")
            seen[key] = f"outlet {i}"
        if self.pulsatile is None:
            extra = [k for k in ("waveform", "cosine_amplitude") if getattr(self.inlet, k) is not None]
            if extra:
                raise ValueError(f"inlet.{extra[0]} is used only by a pulsatile study; add a 'pulsatile' "
                                 "block or remove it")
        elif self.inlet.waveform is not None and self.inlet.waveform[-1][0] > self.pulsatile.period_s:
            raise ValueError(f"inlet.waveform runs to t = {self.inlet.waveform[-1][0]} s, beyond "
                             f"pulsatile.period_s = {self.pulsatile.period_s} s")
        return self


_PETSC_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_PETSC_VALUE = re.compile(r"^[A-Za-z0-9_.+-]{1,100}$")
# options that open viewers, logs, monitors, debuggers, files or Python classes
_PETSC_REFUSED = re.compile(r"view|monitor|log|draw|debug|options|history|malloc|trace|python|error|"
                            r"dump|saws|file|stdout|stderr|info|output|load|save|socket|binary|hdf5")


class SolverSpec(_Model):
    method: Literal["auto", "direct", "iterative"] = "auto"
    direct_max_dofs: int = Field(150_000, ge=0, le=10**10)
    rtol: float = Field(1e-10, gt=0, lt=1)
    max_iterations: int = Field(2000, ge=1, le=1_000_000)
    newton_rtol: float = Field(1e-9, gt=0, lt=1)
    newton_max_iterations: int = Field(25, ge=1, le=1000)
    petsc_options: dict[str, str | int | float] = Field(default_factory=dict, max_length=200)

    @field_validator("petsc_options", mode="before")
    @classmethod
    def _safe_options(cls, value):
        if not isinstance(value, dict):
            return value
        out = {}
        for key, v in value.items():
            if not isinstance(key, str) or not _PETSC_KEY.match(key):
                raise ValueError(f"{str(key)[:60]!r} is not a PETSc option name (letters, digits, _)")
            if _PETSC_REFUSED.search(key.lower()):
                raise ValueError(f"{key!r} is refused: options that open viewers, monitors, logs, "
                                 "debuggers or files are not accepted; solver settings such as "
                                 "ksp_rtol, pc_type or mat_mumps_icntl_14 are")
            if isinstance(v, bool):
                v = "true" if v else "false"
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{key}: must be a finite number")
            if isinstance(v, str) and (not _PETSC_VALUE.match(v) or v.lower() == "python"):
                raise ValueError(f"{key}: value {v[:60]!r} is refused (only a name or a number)")
            if not isinstance(v, str | int | float):
                raise ValueError(f"{key}: a PETSc option value is a name or a number")
            out[key] = v
        return out


class Outputs(_Model):
    xdmf: bool = True
    fields: list[str] = Field(default_factory=lambda: ["all"], min_length=1, max_length=50,
                              description="names written to results.xdmf, or 'all'")


class Study(_Model):
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=1000)
    name: Name = "study"
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
        other = "flow" if self.physics == "elasticity" else "elasticity"
        if getattr(self, other) is not None:
            raise ValueError(f"the '{other}' block is unused by {_a(self.physics)} study; remove it")
        known = OUTPUT_FIELDS[self.physics]
        fields = self.outputs.fields
        bad = [f for f in fields if f not in known and f != "all"]
        if bad:
            raise ValueError(f"outputs.fields: {bad[0]!r} is not {_a(self.physics)} field; choose from "
                             f"'all', {', '.join(repr(k) for k in known)}")
        if "all" in fields and len(fields) > 1:
            raise ValueError("outputs.fields: 'all' already includes every field; give 'all' alone")
        if not self.outputs.xdmf and self.outputs._given("fields"):
            raise ValueError("outputs.fields is used only with outputs.xdmf true")
        return self

    def output_fields(self) -> tuple[str, ...]:
        """The field names to write to results.xdmf (empty when ``outputs.xdmf`` is false)."""
        if not self.outputs.xdmf:
            return ()
        known = OUTPUT_FIELDS[self.physics]
        return known if "all" in self.outputs.fields else tuple(f for f in known if f in self.outputs.fields)


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


# ------------------------------------------------------------------------------ reading
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')
_LONG_NUMBER = re.compile(rf"[-+0-9.eE]{{{MAX_NUMBER_CHARS + 1},}}")


class _BadJson(ValueError):
    pass


def _where(stack: list) -> str:
    parts = [str(k) for _, k in stack if k is not None]
    text = ".".join(parts[:8]) + (".…" if len(parts) > 8 else "")
    return text or "(top level)"


def _scan(text: str) -> None:
    """Refuse nesting deeper than MAX_NESTING and over-long numbers, naming where (before json.loads)."""
    stack: list[list] = []  # [kind, current key or index]
    last_string = None
    pos = 0
    for m in _JSON_TOKEN.finditer(text):
        gap = text[pos:m.start()]
        pos = m.end()
        if len(gap) > MAX_NUMBER_CHARS and _LONG_NUMBER.search(gap):
            raise _BadJson(f"{_where(stack)}: a number with {len(_LONG_NUMBER.search(gap).group())} "
                           f"characters (the limit is {MAX_NUMBER_CHARS})")
        t = m.group()
        if t in "{[":
            stack.append([t, None if t == "{" else 0])
            if len(stack) > MAX_NESTING:
                raise _BadJson(f"{_where(stack)}: nested more than {MAX_NESTING} levels deep")
        elif t in "}]":
            if stack:
                stack.pop()
        elif t == ":":
            if stack and stack[-1][0] == "{":
                stack[-1][1] = last_string
        elif t == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
        else:
            try:
                last_string = json.loads(t)[:60]
            except ValueError:
                last_string = t[1:61]
    gap = text[pos:]
    if len(gap) > MAX_NUMBER_CHARS and _LONG_NUMBER.search(gap):
        raise _BadJson(f"{_where(stack)}: a number longer than {MAX_NUMBER_CHARS} characters")


def _pairs(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise _BadJson(f"the key {k[:60]!r} appears twice in one object")
        seen[k] = v
    return seen


def _constant(name: str) -> float:
    return float(name.replace("Infinity", "inf"))  # NaN/Infinity: refused by the schema, by field


def _describe(exc: ValidationError, limit: int = 5) -> str:
    seen, parts = set(), []
    for e in exc.errors():
        # drop the union-branch names pydantic puts in the location ('str', 'int', 'float', ...)
        loc = [str(p) for p in e["loc"] if p not in ("str", "int", "float", "function-after",
                                                     "constrained-str", "bool", "tuple", "list")]
        where = ".".join(loc) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "union_tag_not_found":
            msg = "needs a 'type'"
        if msg == "Input should be a finite number":
            msg = "must be a finite number (NaN, Infinity and numbers beyond 1.8e308 are refused)"
        if where in seen:
            continue
        seen.add(where)
        parts.append(f"{where}: {msg}")
    more = len(parts) - limit
    return "; ".join(parts[:limit]) + (f"; ... and {more} more" if more > 0 else "")


def parse_study(text: str, path: str | Path | None = None) -> Study:
    """Validate a study given as JSON text; InputError naming the field otherwise."""
    hint = "See docs/simulation.md for the study format."
    try:
        _scan(text)
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                         path=path, hint="Fix the JSON syntax.") from None
    except (_BadJson, RecursionError, ValueError) as exc:
        raise InputError(f"invalid study: {exc}", path=path, hint=hint) from None
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"invalid study: {_describe(exc)}", path=path, hint=hint) from None


def load_study(path: str | Path) -> tuple[Study, Path]:
    """Read and validate a study file; returns the study and the absolute mesh path.

    Raises InputError naming the file and the first problems found (by field).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("study file not found", path=path, hint="Check the path.")
    size = path.stat().st_size
    if size > MAX_STUDY_BYTES:
        raise InputError(f"the study file is {size / 1e6:.1f} MB, more than the {MAX_STUDY_BYTES >> 20} MiB "
                         "a study may have", path=path, hint="A study file is a few kB of JSON.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid JSON (not UTF-8 text at byte {exc.start})", path=path,
                         hint="Fix the JSON syntax.") from None
    except OSError as exc:
        raise InputError(f"cannot read the study file ({exc.strerror})", path=path,
                         hint="Check the path and its permissions.") from None
    study = parse_study(text, path)
    mesh_path = Path(study.mesh.file)
    if not mesh_path.is_absolute():
        mesh_path = (path.parent / mesh_path).resolve()
    if not mesh_path.is_file():
        raise InputError(f"mesh file {mesh_path} not found", path=path,
                         hint="Fix 'mesh.file' (relative paths start at the study's folder).")
    ct = study.elasticity.ct_material if study.elasticity is not None else None
    if ct is not None:
        ct_path = Path(ct.volume)
        if not ct_path.is_absolute():
            ct_path = (path.parent / ct_path).resolve()
        if not ct_path.is_file():
            raise InputError(f"CT volume {ct_path} of elasticity.ct_material not found", path=path,
                             hint="Fix 'elasticity.ct_material.volume' (relative paths start at the study's "
                                  "folder).")
        ct.volume = str(ct_path)
    return study, mesh_path
