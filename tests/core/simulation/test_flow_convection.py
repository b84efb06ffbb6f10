"""Convection verification against navier_stokes_exact.json: the Navier-Stokes solver's weak form on
Kovasznay, Ethier-Steinman and the manufactured swirling pipe, with negative controls (no convection)."""

from __future__ import annotations

import json

import pytest
from mpi4py import MPI  # noqa: F401

from surgiplan.core.errors import InputError
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def sols():
    from surgiplan.core.simulation.verify_ns import load_ns_reference

    return load_ns_reference(require_shared("reference", "navier_stokes_exact.json"))


def test_kovasznay_converges_at_taylor_hood_rates_and_needs_convection(sols):
    from surgiplan.core.simulation.verify_ns import ERROR_TOL, kovasznay_errors

    sol = sols["kovasznay_1948"]
    case = next(c for c in sol["cases"] if c["Re"] == 100.0)
    e8 = kovasznay_errors(sol, case, 8)
    e16 = kovasznay_errors(sol, case, 16)
    import math

    order_u = math.log(e8[0] / e16[0]) / math.log(2.0)
    order_p = math.log(e8[1] / e16[1]) / math.log(2.0)
    assert e16[0] < ERROR_TOL["kovasznay_u"] and e16[1] < ERROR_TOL["kovasznay_p"]
    assert order_u > 2.55 and order_p > 1.5
    stokes = kovasznay_errors(sol, case, 16, convection=False)
    assert stokes[0] > 50 * e16[0]  # negative control: without convection the velocity is wrong


def test_ethier_steinman_pressure_needs_convection(sols):
    from surgiplan.core.simulation.verify_ns import _check_table_ethier, ethier_errors

    sol = sols["ethier_steinman_1994"]
    assert _check_table_ethier(sol) < 1e-12
    case = next(c for c in sol["cases"] if c["nu"] == 1.0)
    eu, ep, _ = ethier_errors(sol, case, 4)
    eu0, ep0, _ = ethier_errors(sol, case, 4, convection=False)
    assert ep < 0.15 and eu < 0.02
    # a Beltrami flow: without convection the velocity stays about as good, the pressure does not
    assert eu0 < 10 * eu + 0.02 and ep0 > 5 * ep


def test_swirling_pipe_body_force_matches_the_table_and_converges(sols):
    from surgiplan.core.simulation.verify_ns import check_pipe_forcing, pipe_errors

    sol = sols["manufactured_swirling_pipe"]
    assert check_pipe_forcing(sol) < 1e-10
    eu, ep, _ = pipe_errors(sol, 0.5)
    eu0, _, _ = pipe_errors(sol, 0.5, convection=False)
    assert eu < 0.03 and ep < 0.1
    assert eu0 > 3 * eu


def test_a_wrong_forcing_table_is_caught(sols):
    import copy

    from surgiplan.core.simulation.verify_ns import check_pipe_forcing

    bad = copy.deepcopy(sols["manufactured_swirling_pipe"])
    bad["parameters"]["Omega"] = 0.51  # 2 % off the swirl the table was made with
    assert check_pipe_forcing(bad) > 1e-4


def test_missing_broken_and_hostile_reference(tmp_path):
    from surgiplan.core.simulation.verify_ns import _np_eval, load_ns_reference

    with pytest.raises(InputError, match="not found"):
        load_ns_reference(tmp_path / "none.json")
    for text in ("", "{", json.dumps({"solutions": {}}), json.dumps([1, 2])):
        p = tmp_path / "bad.json"
        p.write_text(text)
        with pytest.raises(InputError, match="not a valid Navier-Stokes reference") as exc:
            load_ns_reference(p)
        assert "bad.json" in str(exc.value)
    with pytest.raises(InputError, match="unexpected formula"):
        _np_eval("__import__('os').system('true')", {})
