"""Time-averaged wall shear stress (TAWSS) and oscillatory shear index (OSI) over one cardiac cycle.

For every wall-adjacent cell (its wall faces' facet-averaged WSS vector tau, the tangential part of the
viscous traction 2 mu eps(u) n, as :func:`surgiplan.core.simulation.flow.wall_shear_stress`):

    TAWSS = 1/T int_0^T |tau| dt                    (Pa)
    OSI   = 1/2 (1 - |int_0^T tau dt| / int_0^T |tau| dt)   (1; 0 = unidirectional, 0.5 = purely oscillating)

(He & Ku 1996, J Biomech Eng 118:74). The integrals are sums over the time steps of the last cycle
(``add`` once per step with its ``dt``): for a periodic signal sampled at equal steps over one period
that is the periodic trapezoidal rule. SI units inside (m, s, Pa); collective over MPI ranks.
"""

from __future__ import annotations

import numpy as np

# OSI above which a wall region counts as oscillatory, and the low-TAWSS threshold (Pa)
OSI_HIGH = 0.2
TAWSS_LOW = 0.4


class WallShearCycle:
    """Accumulates int tau dt and int |tau| dt per wall-adjacent owned cell of ``setup``'s mesh.

    ``u`` is the velocity Function that the solver updates in place (its forms are compiled once).
    """

    def __init__(self, setup, u, mu_value: float | None = None):
        import ufl
        from dolfinx import fem

        from surgiplan.core.simulation.flow import viscosity

        mesh = setup.tm.mesh
        n = setup.n
        mu = viscosity(setup.spec, u) if mu_value is None else mu_value
        tr = 2.0 * mu * ufl.dot(ufl.sym(ufl.grad(u)), n)
        wss = tr - ufl.dot(tr, n) * n
        Q0 = fem.functionspace(mesh, ("DG", 0, (3,)))
        S0 = fem.functionspace(mesh, ("DG", 0))
        dsw = sum((setup.ds(t) for t in setup.wall_tags[1:]), setup.ds(setup.wall_tags[0]))
        self._form = fem.form(ufl.dot(wss, ufl.TestFunction(Q0)) * dsw)
        va = fem.assemble_vector(fem.form(ufl.TestFunction(S0) * dsw))
        va.scatter_reverse(_add())
        self.n_owned = mesh.topology.index_map(3).size_local
        self.area = va.array[:self.n_owned].copy()  # wall area per cell (m^2); 0 off the wall
        self.comm = mesh.comm
        self.mesh = mesh
        self.sum_vec = np.zeros((self.n_owned, 3))
        self.sum_mag = np.zeros(self.n_owned)
        self.time = 0.0
        self.steps = 0

    def current(self) -> np.ndarray:
        """Facet-averaged WSS vectors (n_owned, 3) of the current velocity (Pa)."""
        from dolfinx import fem

        b = fem.assemble_vector(self._form)
        b.scatter_reverse(_add())
        vec = b.array.reshape(-1, 3)[:self.n_owned]
        out = np.zeros((self.n_owned, 3))
        m = self.area > 0
        out[m] = vec[m] / self.area[m, None]
        return out

    def add(self, dt: float) -> None:
        """Add the current WSS times ``dt`` (s) to the cycle integrals."""
        tau = self.current()
        self.sum_vec += dt * tau
        self.sum_mag += dt * np.linalg.norm(tau, axis=1)
        self.time += dt
        self.steps += 1

    def fields(self) -> tuple[np.ndarray, np.ndarray]:
        """(TAWSS in Pa, OSI) per owned cell; zero off the wall."""
        tawss = np.zeros(self.n_owned)
        osi = np.zeros(self.n_owned)
        if self.time <= 0:
            return tawss, osi
        m = (self.area > 0) & (self.sum_mag > 0)
        tawss[m] = self.sum_mag[m] / self.time
        osi[m] = 0.5 * (1.0 - np.linalg.norm(self.sum_vec[m], axis=1) / self.sum_mag[m])
        return tawss, np.clip(osi, 0.0, 0.5)

    def summary(self) -> dict:
        """Area-weighted wall statistics of TAWSS and OSI (Pa, 1, mm^2), the same on every rank."""
        from mpi4py import MPI

        tawss, osi = self.fields()
        a = self.area
        m = a > 0
        comm = self.comm
        tot = comm.allreduce(float(a[m].sum()), MPI.SUM)

        def mean(x):
            return comm.allreduce(float((x[m] * a[m]).sum()), MPI.SUM) / tot if tot else float("nan")

        return {"cycle_s": self.time, "steps": self.steps, "wall_area_mm2": tot * 1e6,
                "tawss_mean_Pa": mean(tawss),
                "tawss_max_Pa": comm.allreduce(float(tawss[m].max(initial=0.0)), MPI.MAX),
                "tawss_min_Pa": comm.allreduce(float(tawss[m].min(initial=np.inf)), MPI.MIN),
                "osi_mean": mean(osi), "osi_max": comm.allreduce(float(osi[m].max(initial=0.0)), MPI.MAX),
                f"area_osi_above_{OSI_HIGH}_mm2": comm.allreduce(float(a[m & (osi > OSI_HIGH)].sum()), MPI.SUM) * 1e6,
                f"area_tawss_below_{TAWSS_LOW}_Pa_mm2":
                    comm.allreduce(float(a[m & (tawss < TAWSS_LOW)].sum()), MPI.SUM) * 1e6}

    def functions(self) -> list:
        """DG0 Functions ``tawss_Pa`` and ``osi`` (for results.xdmf)."""
        from dolfinx import fem

        Q0 = fem.functionspace(self.mesh, ("DG", 0))
        out = []
        for name, vals in zip(("tawss_Pa", "osi"), self.fields(), strict=True):
            f = fem.Function(Q0, name=name)
            f.x.array[:self.n_owned] = vals
            f.x.scatter_forward()
            out.append(f)
        return out


def _add():
    from dolfinx import la

    return la.InsertMode.add
