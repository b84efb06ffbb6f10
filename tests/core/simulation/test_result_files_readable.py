"""Every result file of a study opens in pyvista and meshio with every field and the solver's values.

The readers run in a child process: VTK's XDMF reader segfaulted on the files dolfinx writes, and a
crash there must fail this test, not kill pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401

from surgiplan.core.simulation.runner import run_study_process
from tests.core.simulation._studies import elasticity_study, flow_study, write_study

_READ = textwrap.dedent("""
    import json, sys
    import numpy as np
    folder, which = sys.argv[1], sys.argv[2]
    out = {}
    if which == "pyvista-xdmf" or which == "pyvista-vtu":
        import pyvista as pv
        g = pv.read(folder + ("/results.xdmf" if which == "pyvista-xdmf" else "/results.vtu"))
        if isinstance(g, pv.MultiBlock):
            g = g.combine()
        out = {"n_points": g.n_points, "n_cells": g.n_cells, "points": np.asarray(g.points).tolist(),
               "point": {k: np.asarray(g.point_data[k]).tolist() for k in g.point_data.keys()},
               "cell": {k: np.asarray(g.cell_data[k]).tolist() for k in g.cell_data.keys()}}
    elif which == "meshio-xdmf":
        import meshio
        with meshio.xdmf.TimeSeriesReader(folder + "/results.xdmf") as r:
            points, cells = r.read_points_cells()
            t, pd, cd = r.read_data(r.num_steps - 1)
        out = {"n_points": len(points), "n_cells": sum(len(c.data) for c in cells), "points": points.tolist(),
               "point": {k: np.asarray(v).tolist() for k, v in pd.items()},
               "cell": {k: np.concatenate([np.asarray(x) for x in v]).tolist() for k, v in cd.items()}}
    elif which == "meshio-vtu":
        import meshio
        m = meshio.read(folder + "/results.vtu")
        out = {"n_points": len(m.points), "n_cells": sum(len(c.data) for c in m.cells), "points": m.points.tolist(),
               "point": {k: np.asarray(v).tolist() for k, v in m.point_data.items()},
               "cell": {k: np.concatenate([np.asarray(x) for x in v]).tolist() for k, v in m.cell_data.items()}}
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def result_folder(tmp_path_factory, beam_msh):
    tmp = tmp_path_factory.mktemp("readable")
    study = write_study(tmp, elasticity_study(beam_msh))
    summary = run_study_process(study, tmp / "out", 1)
    return tmp / "out", summary


@pytest.fixture(scope="module")
def flow_folder(tmp_path_factory, pipe_msh):
    tmp = tmp_path_factory.mktemp("readable_flow")
    study = write_study(tmp, flow_study(pipe_msh))
    summary = run_study_process(study, tmp / "out", 1)
    return tmp / "out", summary


def _read_in_child(folder, which) -> dict:
    proc = subprocess.run([sys.executable, "-c", _READ, str(folder), which], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{which} failed (code {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _h5_fields(folder):
    with h5py.File(folder / "results.h5", "r") as f:
        geom = np.asarray(f["Mesh"][next(iter(f["Mesh"]))]["geometry"])
        fields = {}
        for name, steps in f["Function"].items():
            data = np.asarray(steps[sorted(steps)[-1]])
            fields[name] = data[:, 0] if data.shape[1] == 1 else data
    return geom, fields


@pytest.mark.parametrize("which", ["pyvista-xdmf", "meshio-xdmf", "pyvista-vtu", "meshio-vtu"])
def test_result_file_reads_with_every_field(result_folder, which):
    folder, summary = result_folder
    got = _read_in_child(folder, which)
    geom, fields = _h5_fields(folder)
    written = summary["files"]["written"]
    assert set(fields) == set(written)  # the h5 holds what the solver wrote
    assert got["n_points"] == len(geom) and got["n_cells"] > 100
    np.testing.assert_allclose(np.asarray(got["points"]), geom, rtol=0, atol=1e-12)
    got_fields = got["point"] | got["cell"]
    for name in written:
        assert name in got_fields, f"{which} lacks {name}: has {sorted(got_fields)}"
        a = np.asarray(got_fields[name], dtype=float)
        np.testing.assert_array_equal(a.reshape(fields[name].shape), fields[name], err_msg=f"{which} {name}")
    assert "displacement_mm" in got["point"] and "von_mises_MPa" in got["cell"]
    # the solver's own numbers: the summary's peak von Mises and its tip displacement sign
    assert float(np.max(got["cell"]["von_mises_MPa"])) == pytest.approx(
        summary["regions"]["all"]["von_mises_peak_MPa"], rel=1e-12)
    assert np.unique(np.ravel(got["cell"]["youngs_modulus_MPa"])).tolist() == [17000.0, 110000.0]


def test_result_folder_holds_the_three_field_files(result_folder):
    folder, _ = result_folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["results.h5", "results.vtu", "results.xdmf", "status.json", "summary.json"]
    text = (folder / "results.xdmf").read_text()
    assert text.count("<Grid ") == 2 and "xpointer" not in text  # one collection, one grid, no includes


@pytest.mark.parametrize("which", ["pyvista-xdmf", "meshio-xdmf", "pyvista-vtu", "meshio-vtu"])
def test_flow_result_files_read_with_every_field(flow_folder, which):
    folder, summary = flow_folder
    got = _read_in_child(folder, which)
    geom, fields = _h5_fields(folder)
    assert got["n_points"] == len(geom)
    got_fields = got["point"] | got["cell"]
    assert set(summary["files"]["written"]) <= set(got_fields)
    for name in summary["files"]["written"]:
        a = np.asarray(got_fields[name], dtype=float)
        np.testing.assert_array_equal(a.reshape(fields[name].shape), fields[name], err_msg=f"{which} {name}")
    assert {"velocity_m_per_s", "pressure_Pa"} <= set(got["point"]) and "wall_shear_stress_Pa" in got["cell"]
