"""Outlet resistances of a vessel study: Murray's-law split, pressure level, user split, bad input."""

from __future__ import annotations

import pytest

from surgiplan.core.errors import InputError

MMHG = 133.322387415


def _info(radii):
    return {"mesh": {"file": "mesh.msh"},
            "outlets": [{"name": f"outlet_{i + 1}", "reference_radius_mm": r} for i, r in enumerate(radii)]}


def test_murray_split_and_parallel_resistance_give_the_mean_pressure():
    from surgiplan.core.simulation.vessel.results import flow_study_dict

    study, bc = flow_study_dict(_info([5.0, 5.2]), 20.0, 93.0)
    f = bc["split"]
    assert f[0] / f[1] == pytest.approx((5.0 / 5.2) ** 3, rel=1e-12)
    R = [o["resistance_Pa_s_m3"] for o in study["flow"]["outlets"]]
    # parallel resistances carrying the inflow: P = Q / sum(1/R) = mean pressure
    assert 20e-6 / sum(1 / r for r in R) == pytest.approx(93.0 * MMHG, rel=1e-12)
    assert study["flow"]["inlet"]["flow_rate_mL_s"] == 20.0
    assert all(o["type"] == "resistance" for o in study["flow"]["outlets"])


def test_user_split_is_normalised_and_checked():
    from surgiplan.core.simulation.vessel.results import flow_study_dict

    _, bc = flow_study_dict(_info([5.0, 5.2, 3.0]), 10.0, 90.0, split=[2, 1, 1])
    assert bc["split"] == pytest.approx([0.5, 0.25, 0.25])
    with pytest.raises(InputError, match="3 positive fractions"):
        flow_study_dict(_info([5.0, 5.2, 3.0]), 10.0, 90.0, split=[1, 1])
    with pytest.raises(InputError, match="positive number of mL/s"):
        flow_study_dict(_info([5.0]), 0.0, 90.0)
    with pytest.raises(InputError, match="density and viscosity"):
        flow_study_dict(_info([5.0]), 1.0, 90.0, viscosity=-1.0)
