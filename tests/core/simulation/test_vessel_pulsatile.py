"""vessel-pulsatile and the viscosity option of the vessel studies: the waveform, the options (bad ones
refused, naming the option), and the pulsatile study file run on a small pipe through the study path
(run_flow_study -> results.xdmf -> TAWSS/OSI on surface.vtp)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401  (before dolfinx)

from surgiplan.core.errors import InputError


def test_infrarenal_waveform_has_mean_one_a_systolic_peak_and_a_reversal():
    from surgiplan.core.simulation.vessel.pulsatile_study import infrarenal_waveform

    w = np.array(infrarenal_waveform())
    t, f = w.T
    assert np.all(np.diff(t) > 0) and t[0] == 0.0 and t[-1] < 1.0
    # the solver interpolates linearly and periodically: the mean of that interpolant is the samples' mean
    tt = np.linspace(0, 1, 20001)[:-1]
    assert np.interp(tt, t, f, period=1.0).mean() == pytest.approx(1.0, abs=1e-9)
    assert f.max() == pytest.approx(4.25, abs=0.01) and t[f.argmax()] == pytest.approx(0.16)
    assert f.min() == pytest.approx(-0.80, abs=0.01) and t[f.argmin()] == pytest.approx(0.36)
    assert 0.05 < (f < 0).mean() < 0.15  # backward flow over about a tenth of the cycle


def test_bad_pulsatile_and_blood_options_are_refused_by_name():
    from surgiplan.core.simulation.vessel.blood_models import blood_model
    from surgiplan.core.simulation.vessel.pulsatile_study import pulsatile_settings

    for opts, word in (({"cycles": 0}, "cycles"), ({"cycles": 2.5}, "cycles"), ({"period_s": "fast"}, "period_s"),
                       ({"period_s": float("nan")}, "period_s"), ({"steps_per_cycle": -3}, "steps_per_cycle"),
                       ({"waveform": [[0.0, 1.0]]}, "waveform"), ({"waveform": [[0.5, 1.0], [0.2, 2.0]]}, "waveform"),
                       ({"waveform": [[0.0, 1.0], [2.0, 1.0]]}, "waveform"), ({"waveform": "sine"}, "waveform"),
                       ({"waveform": [[0.0, -1.0], [0.5, 0.0]]}, "mean"), ({"cycles": True}, "cycles")):
        with pytest.raises(InputError, match=word):
            pulsatile_settings(opts)
    for opts in ({"viscosity": "honey"}, {"viscosity": -1}, {"viscosity": float("inf")}, {"viscosity": None},
                 {"density": "x"}, {"density": 0}, {"viscosity": "carreau-yasuda", "reference_viscosity": "x"}):
        with pytest.raises(InputError, match="density|viscosity"):
            blood_model(opts)
    own = pulsatile_settings({"waveform": [[0.0, 2.0], [0.5, 6.0]], "period_s": 1.0})
    assert [f for _, f in own["waveform"]] == [0.5, 1.5]  # normalised to mean 1


def _pipe_info():
    # what build_vessel_model reports, reduced to what the study file needs (a straight pipe, one outlet)
    return {"outlets": [{"name": "outlet", "reference_radius_mm": 4.0}], "mesh": {"file": "pipe.msh"},
            "centrelines": [{"radius_mm": [4.0] * 5, "inlet_cut_index": 0, "outlet_cut_index": 4}]}


@pytest.mark.parametrize("option, model", [("carreau-yasuda", "carreau_yasuda"), (0.004, "newtonian")])
def test_viscosity_option_gives_a_valid_study(option, model):
    from surgiplan.core.simulation.study_schema import parse_study
    from surgiplan.core.simulation.vessel.blood_models import apply_blood_model, blood_model
    from surgiplan.core.simulation.vessel.results import flow_study_dict

    blood = blood_model({"viscosity": option})
    study, _bc = flow_study_dict(_pipe_info(), 5.0, 93.0, viscosity=blood.viscosity_Pa_s)
    apply_blood_model(study, blood)
    fl = parse_study(json.dumps(study)).flow.fluid
    assert fl.model == model
    if model == "newtonian":
        assert fl.viscosity_Pa_s == 0.004
    else:  # the schema's Carreau-Yasuda constants (Cho & Kensey) and mu_inf as the Reynolds viscosity
        assert (fl.mu0_Pa_s, fl.mu_inf_Pa_s, fl.n) == (0.056, 0.00345, 0.3568)
        assert fl.viscosity_Pa_s == 0.00345
        assert "Carreau-Yasuda" in blood.label()


def test_courant_steps_follow_the_narrowest_section():
    from surgiplan.core.simulation.vessel.pulsatile_study import courant_steps, pulsatile_settings

    info = _pipe_info()
    info["centrelines"][0]["radius_mm"] = [4.0, 4.0, 2.0, None, 4.0]
    st = pulsatile_settings({})
    steps, facts = courant_steps(info, 20.0, st)
    u = 4.2456 * 20e-6 / (math.pi * 2e-3**2)
    assert facts["peak_velocity_bound_m_s"] == pytest.approx(u, rel=1e-3)
    assert steps == math.ceil(1.0 * u / (0.3 * 2e-3))


def test_pulsatile_study_file_runs_on_a_pipe_and_maps_tawss_osi_to_the_surface(tmp_path, pipe_msh):
    import pyvista as pv

    from surgiplan.core.simulation.flow_study import run_flow_study
    from surgiplan.core.simulation.results import read_results
    from surgiplan.core.simulation.study_schema import parse_study
    from surgiplan.core.simulation.vessel.pulsatile_study import (
        add_cycle_fields,
        pulsatile_settings,
        pulsatile_study_dict,
    )
    from surgiplan.core.simulation.vessel.results import flow_study_dict, write_vtp
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    q_mean = 0.3  # mL/s: peak 1.27 mL/s, Re 54 and Courant 0.4 at 24 steps per 0.5 s on this 1.3 mm pipe
    steady, _bc = flow_study_dict(_pipe_info(), q_mean, 93.0)
    st = pulsatile_settings({"period_s": 0.5, "cycles": 2})
    sd = pulsatile_study_dict(steady, st, 24, q_mean)
    study = parse_study(json.dumps(sd))
    assert study.flow.pulsatile.steps_per_cycle == 24 and study.flow.outlets[0].type == "resistance"
    tm = read_tagged_mesh(pipe_msh, MPI.COMM_WORLD).scaled(1e-3, "m")
    summary = run_flow_study(study, tm, tmp_path)
    # the last cycle carries the mean flow of the waveform (sampled at 24 of its 50 points: within 1 %)
    assert summary["last_cycle_mean_inlet_flow_mL_per_s"] == pytest.approx(q_mean, rel=0.01)
    cyc = summary["wall_shear_cycle"]
    # the flow runs backwards over a tenth of the cycle; at 2 Hz (Womersley number 7.8) the wall shear
    # leads the flow and reverses for longer: measured OSI 0.26, clearly oscillatory, mostly forward
    assert 0.1 < cyc["osi_mean"] < 0.4
    # TAWSS is at least the magnitude of the mean WSS, which is Poiseuille's for the mean flow (developed
    # over most of the 20 mm pipe; coarse mesh: within 20 %)
    poiseuille = 4 * 0.0035 * q_mean * 1e-6 / (math.pi * 4e-3**3)
    assert cyc["tawss_mean_Pa"] > 0.9 * poiseuille
    # the display surface: the wall of the solved mesh in mm, as the steady finish writes it
    grid = read_results(tmp_path / "results.xdmf")
    surf = grid.extract_surface(algorithm="dataset_surface")
    surf.points = surf.points * 1e3
    surf = pv.PolyData(surf.points, surf.faces)
    surf.cell_data["anatomy"] = np.ones(surf.n_cells, np.uint8)
    write_vtp(tmp_path / "surface.vtp", surf)
    res = {"display_fields": [], "key_results": []}
    stats = add_cycle_fields(tmp_path, res)
    assert {f["name"] for f in res["display_fields"]} == {"tawss_Pa", "osi"}
    labels = {r["label"] for r in res["key_results"]}
    assert "time-averaged WSS (mean)" in labels and "oscillatory shear index (mean)" in labels
    # the same cells seen from the surface (inlet/outlet caps carry no shear and are counted with 0 here)
    assert stats["osi_mean"] == pytest.approx(cyc["osi_mean"] * cyc["wall_area_mm2"] / stats["wall_area_mm2"],
                                              rel=0.05)
    back = pv.read(str(tmp_path / "surface.vtp"))
    assert {"tawss_Pa", "osi"} <= set(back.point_data.keys())


def test_add_cycle_fields_refuses_a_steady_result(tmp_path, pipe_msh):
    from surgiplan.core.simulation.flow_study import run_flow_study
    from surgiplan.core.simulation.study_schema import parse_study
    from surgiplan.core.simulation.vessel.pulsatile_study import add_cycle_fields
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    study = parse_study(json.dumps({"name": "s", "physics": "flow", "mesh": {"file": "pipe.msh"},
                                    "flow": {"inlet": {"boundary": "inlet", "flow_rate_mL_s": 0.3},
                                             "outlets": [{"boundary": "outlet"}], "walls": ["wall"],
                                             "convection": False}}))
    run_flow_study(study, read_tagged_mesh(pipe_msh, MPI.COMM_WORLD).scaled(1e-3, "m"), tmp_path)
    with pytest.raises(InputError, match="results.xdmf"):
        add_cycle_fields(tmp_path, {})
