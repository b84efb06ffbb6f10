"""The remodelling loop as a child process (dolfinx): ``python -m surgiplan.core.twin.remodel_run CONFIG.json``.

Reads the implanted femur's study (mesh, loads, CT-mapped modulus) and the intact femur's
results, then per step: solve (:func:`surgiplan.core.simulation.elasticity.solve_elasticity`
with the current per-element modulus), stimulus U/rho per bone element, one explicit Euler
step of :mod:`surgiplan.core.twin.remodel_rule`, E = C rho^gamma. The mesh, the boundary
conditions and the compiled forms are reused between steps (no re-meshing, no new CT mapping).

Prints one JSON object a line like :mod:`surgiplan.core.simulation.run_study`:
``{"progress": x, "message": ...}``, then ``{"result": {...}}`` or ``{"error": {"type", "message"}}``.
Writes ``remodel_cells.npz`` (bone elements: centroid, volume, density at the start and at each
reported month, reference stimulus) and ``remodel.vtu`` into the output folder, through fileio.
Serial (one rank).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from mpi4py import MPI  # before dolfinx


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class _Progress:
    cancelled = False

    def update(self, fraction: float, message: str = "") -> None:
        _emit({"progress": float(fraction), "message": message})


def _intact_reference(intact_vtu: Path, centroids: np.ndarray, p) -> tuple[np.ndarray, np.ndarray]:
    """Stimulus (J/g) of the intact femur at the nearest intact bone element of each centroid, and the
    distance (mm) to it."""
    import pyvista as pv
    from scipy.spatial import cKDTree

    from surgiplan.core.errors import InputError
    from surgiplan.core.twin.remodel_rule import density_from_modulus, stimulus

    try:
        g = pv.read(str(intact_vtu))
        sed = np.asarray(g.cell_data["strain_energy_density_mJ_per_mm3"], float)
        E = np.asarray(g.cell_data["youngs_modulus_MPa"], float)
        bone = np.asarray(g.cell_data["region_id"]) == 0 if "region_id" in g.cell_data else np.ones(len(E), bool)
    except Exception as exc:  # unreadable or without the fields the reference needs
        raise InputError(f"the intact femur's results cannot serve as the remodelling reference ({exc})",
                         path=intact_vtu, hint="Run the study again (the intact femur is solved first).") from None
    rho = np.clip(density_from_modulus(E[bone], p), p.density_min, None)
    s_ref = stimulus(sed[bone], rho)
    cent = np.asarray(g.cell_centers().points)[bone]
    dist, idx = cKDTree(cent).query(centroids)
    return s_ref[idx], dist


def run(config: dict, progress=None) -> dict:
    """The loop of ``config`` (see :func:`surgiplan.core.twin.remodel_study._write_config`); the summary."""
    import dolfinx  # noqa: F401  (after mpi4py, imported at the top)

    from surgiplan.core import fileio
    from surgiplan.core.jobs import report
    from surgiplan.core.simulation.elasticity import material_fields, solve_elasticity
    from surgiplan.core.simulation.fields import cell_fields
    from surgiplan.core.simulation.study_schema import load_study
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh
    from surgiplan.core.twin.remodel_rule import RemodelParams, density_from_modulus, modulus, step, stimulus

    t0 = time.perf_counter()
    p = RemodelParams(**config["params"])
    months = sorted(float(m) for m in config["months"])
    dt = p.time_step_months
    n_steps = int(np.ceil(months[-1] / dt - 1e-9))
    study, mesh_path = load_study(config["study"])
    report(progress, 0.01, "reading the implanted femur's mesh")
    tm = read_tagged_mesh(mesh_path, MPI.COMM_SELF, unit=study.mesh.unit, names=study.mesh.tags)
    spec = study.elasticity
    E0_fn, _ = material_fields(tm, spec)  # the CT-mapped start (the same mapping as the runner's solve)
    E_all = np.array(E0_fn.x.array, dtype=float)
    bone = np.sort(tm.cell_tags.find(tm.resolve(config.get("region", "bone"), 3, "material region")))
    fixed_spec = spec.model_copy(update={"ct_material": None})
    mesh = tm.mesh
    nodes = mesh.geometry.dofmap[bone][:, :4]
    xyz = mesh.geometry.x[nodes]
    centroids = xyz.mean(axis=1)
    a, b, c = xyz[:, 1] - xyz[:, 0], xyz[:, 2] - xyz[:, 0], xyz[:, 3] - xyz[:, 0]
    volumes = np.abs(np.einsum("ij,ij->i", a, np.cross(b, c))) / 6.0
    rho0 = np.clip(density_from_modulus(E_all[bone], p), p.density_min, None)
    upper = np.maximum(p.density_max, rho0)
    if p.reference == "site-specific":
        k, ref_dist = _intact_reference(Path(config["intact_results"]), centroids, p)
    else:
        k, ref_dist = np.full(len(bone), p.reference_stimulus_J_per_g), np.zeros(len(bone))
    k = np.maximum(k, 1e-12)
    rho = rho0.copy()
    E_all[bone] = modulus(rho, p)
    at: dict[float, np.ndarray] = {}
    marks = {m: int(round(m / dt)) for m in months}
    history = []
    solve_s = []
    S0 = None
    for i in range(n_steps):
        report(progress, 0.05 + 0.9 * i / n_steps, f"remodelling: solve {i + 1} of {n_steps} "
               f"(month {i * dt:g} to {(i + 1) * dt:g})")
        ts = time.perf_counter()
        sol = solve_elasticity(tm, fixed_spec, study.solver, cell_modulus_MPa=E_all)
        mu, lmbda = sol.mu_lambda
        sed = cell_fields(sol.u, mu, lmbda).strain_energy_density[bone]
        solve_s.append(time.perf_counter() - ts)
        S = stimulus(sed, rho)
        if S0 is None:
            S0 = S.copy()
        rho = step(rho, S, k, p, dt, upper)
        E_all[bone] = modulus(rho, p)
        mass = float(np.sum(rho * volumes))
        history.append({"month": (i + 1) * dt, "bone_mass_change_percent":
                        100.0 * (mass - float(np.sum(rho0 * volumes))) / float(np.sum(rho0 * volumes)),
                        "elements_resorbing": int(np.sum(S < (1 - p.lazy_zone_half_width) * k)),
                        "elements_forming": int(np.sum(S > (1 + p.lazy_zone_half_width) * k))})
        for m, idx in marks.items():
            if idx == i + 1:
                at[m] = rho.copy()
    out = Path(config["out"])
    fileio.ensure_folder(out)
    arrays = {"centroids_mm": centroids, "volumes_mm3": volumes, "rho0_g_cm3": rho0, "reference_stimulus_J_g": k,
              "stimulus0_J_g": S0, "reference_distance_mm": ref_dist, "months": np.array(months)}
    for m in months:
        arrays[f"rho_{m:g}_g_cm3"] = at[m]

    def _npz(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    fileio.atomic_write(out / "remodel_cells.npz", _npz)
    _write_vtu(out / "remodel.vtu", mesh, nodes, rho0, at, months)
    return {"physics": "remodelling", "solves": n_steps, "time_step_months": dt, "months": months,
            "bone_elements": int(len(bone)), "degree": int(spec.degree),
            "solve_s_median": float(np.median(solve_s)) if solve_s else None,
            "history": history, "wall_time_s": time.perf_counter() - t0,
            "reference_distance_mm_p99": float(np.percentile(ref_dist, 99))}


def _write_vtu(path: Path, mesh, nodes: np.ndarray, rho0, at: dict, months) -> None:
    import pyvista as pv

    from surgiplan.core import fileio

    used, inv = np.unique(nodes.ravel(), return_inverse=True)
    pts = mesh.geometry.x[used]
    cells = np.column_stack([np.full(len(nodes), 4), inv.reshape(-1, 4)]).ravel()
    grid = pv.UnstructuredGrid(cells, np.full(len(nodes), pv.CellType.TETRA, dtype=np.uint8), pts)
    grid.cell_data["density_start_g_cm3"] = rho0
    for m in months:
        grid.cell_data[f"density_{m:g}_months_g_cm3"] = at[m]
        grid.cell_data[f"density_change_{m:g}_months_percent"] = 100.0 * (at[m] - rho0) / rho0
    fileio.atomic_write(path, lambda tmp: grid.save(str(tmp), binary=True))


def main(argv: list[str] | None = None) -> int:
    from surgiplan.core.errors import SurgiplanError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        result = run(config, _Progress())
    except SurgiplanError as exc:
        _emit({"error": {"type": type(exc).__name__, "message": str(exc)}})
        return 1
    except Exception as exc:  # anything else: a solver failure with its traceback on stderr
        traceback.print_exc()
        _emit({"error": {"type": "SolverError", "message": f"remodelling failed: {exc}"}})
        return 1
    _emit({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
