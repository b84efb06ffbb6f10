"""The remodelling rule against the shared reference case ``bone_remodelling_uniform_bar``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from surgiplan.core.simulation.verify import run_verification
from surgiplan.core.twin.remodel_rule import RemodelParams, density_from_modulus, modulus, rate
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def reference_file():
    return require_shared("reference", "validation_reference_values.json")


def test_uniform_bar_every_reference_value(reference_file):
    rows = run_verification(reference_file, only="bone_remodelling")
    assert len(rows) >= 40
    failed = [r for r in rows if not r.passed]
    assert not failed, [(r.quantity, r.computed, r.reference) for r in failed]
    # the closed-form values are reached to far better than the 1 % tolerance
    eq = next(r for r in rows if r.quantity == "equilibrium_density")
    assert eq.relative_error < 1e-6
    assert {r.name for r in rows} == {"bone_remodelling_uniform_bar"}


def test_wrong_reference_is_caught(tmp_path, reference_file):
    data = json.loads(reference_file.read_text())
    case = next(c for c in data["cases"] if c["name"] == "bone_remodelling_uniform_bar")
    for q in case["quantities"]:
        if q["name"] == "lazy_zone_lower_density_edge":
            q["value"] *= 1.02  # 2 % off: outside the 1 % tolerance
    case["runs"][0]["density_at_times"]["50.0"] *= 0.98
    bad_file = tmp_path / "ref.json"
    bad_file.write_text(json.dumps(data))
    bad = [r for r in run_verification(bad_file, only="bone_remodelling") if not r.passed]
    assert {r.quantity for r in bad} == {"lazy_zone_lower_density_edge", "density at t=50, s=0.75 rho0=0.8"}


def test_missing_case_names_it(tmp_path, reference_file):
    data = json.loads(reference_file.read_text())
    data["cases"] = [c for c in data["cases"] if c["name"] != "bone_remodelling_uniform_bar"]
    f = tmp_path / "ref.json"
    f.write_text(json.dumps(data))
    with pytest.raises(InputError, match="bone_remodelling_uniform_bar"):
        run_verification(f, only="bone_remodelling")


def test_rule_pieces():
    p = RemodelParams(lazy_zone_half_width=0.5, rate_constant=2.0)
    k = np.array([0.004, 0.004, 0.004])
    S = np.array([0.001, 0.004, 0.010])
    # below the lazy zone: B (S - 0.5 k); inside: 0; above: B (S - 1.5 k)
    assert np.allclose(rate(S, k, 0.5, 2.0), [2.0 * (0.001 - 0.002), 0.0, 2.0 * (0.010 - 0.006)])
    rho = np.array([0.3, 1.0, 1.8])
    assert np.allclose(density_from_modulus(modulus(rho, p), p), rho)
    with pytest.raises(ValueError, match="lazy_zone_half_width"):
        RemodelParams(lazy_zone_half_width=1.2)
    with pytest.raises(ValueError, match="density_max"):
        RemodelParams(density_min=1.0, density_max=0.5)
