"""The quick verification against the analytic reference file, and that it really reads it."""

from __future__ import annotations

import json

import pytest
from mpi4py import MPI  # noqa: F401

from surgiplan.core.errors import InputError
from surgiplan.core.simulation.verify import run_verification


@pytest.fixture(scope="module")
def quick_rows(reference_file):
    return run_verification(reference_file, quick=True)


@pytest.mark.slow
def test_quick_verification_passes_every_case(quick_rows, reference_file):
    failed = [r for r in quick_rows if not r.passed]
    assert not failed, "\n".join(f"{r.name} {r.quantity}: {r.computed} vs {r.reference}" for r in failed)
    names = {r.name for r in quick_rows}
    ref_names = {c["name"] for c in json.loads(reference_file.read_text())["cases"]}
    # every elasticity and flow case, the CT material mapping and the bone remodelling rule are verified
    covered = {n for n in ref_names if any(x.startswith(n) for x in names)}
    assert covered == ref_names
    assert any(r.name.startswith("mesh_convergence") and r.physics == "flow" for r in quick_rows)
    assert sum(r.name.startswith("mesh_convergence_lame") for r in quick_rows) == 2


@pytest.mark.slow
def test_rows_compare_with_the_file_values(quick_rows, reference_file):
    cases = {c["name"]: c for c in json.loads(reference_file.read_text())["cases"]}
    for r in quick_rows:
        base = r.name.split(" (")[0]
        if base in cases and r.quantity in {q["name"] for q in cases[base]["quantities"]}:
            value = next(q["value"] for q in cases[base]["quantities"] if q["name"] == r.quantity)
            assert r.reference == pytest.approx(value, rel=1e-12)
            assert r.tolerance <= cases[base]["tolerance"]["relative"] or r.unit == "deg"


def test_a_wrong_reference_value_fails(tmp_path, reference_file):
    data = json.loads(reference_file.read_text())
    for case in data["cases"]:
        if case["name"].startswith("patch_test"):
            for q in case["quantities"]:
                if q["name"] == "strain_energy_density":
                    q["value"] *= 1.001  # 0.1 % off: far outside the 1e-10 tolerance
    tampered = tmp_path / "ref.json"
    tampered.write_text(json.dumps(data))
    rows = run_verification(tampered, quick=True, only="patch")
    bad = [r for r in rows if not r.passed]
    assert bad and all("strain_energy_density" in r.quantity for r in bad)


def test_missing_or_broken_reference(tmp_path):
    with pytest.raises(InputError, match="not found"):
        run_verification(tmp_path / "none.json", quick=True, only="patch")
    broken = tmp_path / "broken.json"
    broken.write_text("{\"cases\": 3")
    with pytest.raises(InputError, match="broken.json"):
        run_verification(broken, quick=True, only="patch")


@pytest.mark.slow
def test_poiseuille_rows_use_the_measured_tolerance(quick_rows):
    """Poiseuille is checked to what the solver achieves (0.3 % pressure drop, 0.6 % WSS, 1e-4 centreline
    velocity), not the reference file's 2 %: a pressure drop 0.5 % off now fails."""
    from surgiplan.core.simulation.verify import POISEUILLE_TOLERANCE, _row

    rows = [r for r in quick_rows if r.name.startswith("poiseuille_")]
    assert len(rows) == 20
    for r in rows:
        assert r.tolerance == POISEUILLE_TOLERANCE[r.quantity] < 0.02, (r.name, r.quantity)
        assert r.passed
    dp = next(r for r in rows if r.quantity == "pressure_drop")
    assert not _row(dp.name, "flow", "pressure_drop", dp.reference * 1.005, dp.reference, "Pa", dp.tolerance).passed
