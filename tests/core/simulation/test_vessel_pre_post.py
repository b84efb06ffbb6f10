"""Pre- and post-stent vessel studies from one plan (issue 29): the comparison rows, the native result's
cache key, the rows the plan comparison and the report read; and (opt-in, SURGIPLAN_VESSEL_PAIR=1, about
3-6 min on 2 loaded cores) the real pair on a tiny stenosed tube case, the native reused by a second
plan and the CLI's ``--json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401

PAIR = pytest.mark.skipif(os.environ.get("SURGIPLAN_VESSEL_PAIR") != "1",
                          reason="the real pre/post solve pair: set SURGIPLAN_VESSEL_PAIR=1 (minutes)")
FLOW = {"flow_mL_s": 1.0}  # inlet Re 78 in the 5 mm tube: both lumens converge in a few Newton steps


def _key(label, value, unit, region):
    return {"label": label, "value": value, "unit": unit, "region": region}


def test_pre_post_rows_pair_values_by_label_and_region():
    from surgiplan.core.simulation.vessel.case_study import pre_post_rows

    where = "stenosis, centreline to outlet_1"
    pre = {"key_results": [_key("lumen", "native (pre-stent)", "", "lesion"),
                           _key("pressure drop across the lesion", 4.0, "mmHg", where),
                           _key("flow through outlet_1", 1.0, "mL/s", "outlet_1"),
                           _key("mean wall shear stress", 1.5, "Pa", "vessel wall")]}
    post = {"key_results": [_key("lumen", "stented (x)", "", "lesion"),
                            _key("mean wall shear stress", 0.5, "Pa", "vessel wall"),
                            _key("flow through outlet_1", 1.0, "mL/s", "outlet_1"),
                            _key("pressure drop across the lesion", 1.0, "mmHg", where),
                            _key("pressure drop across the lesion", 9.0, "mmHg", "another lesion")]}
    rows = pre_post_rows(pre, post)
    # the order of PRE_POST_LABELS, the lumen row left out (it is text), a value without a partner kept
    assert [(r["quantity"], r["region"]) for r in rows] == [
        ("pressure drop across the lesion", where), ("pressure drop across the lesion", "another lesion"),
        ("flow through outlet_1", "outlet_1"), ("mean wall shear stress", "vessel wall")]
    assert rows[0] == {"quantity": "pressure drop across the lesion", "region": where, "unit": "mmHg",
                       "pre": 4.0, "post": 1.0, "change": -3.0}
    assert rows[1]["pre"] is None and rows[1]["change"] is None
    assert rows[3]["change"] == pytest.approx(-1.0)
    missing = pre_post_rows(None, post)  # the native failed: every 'before' is missing
    assert all(r["pre"] is None and r["change"] is None for r in missing) and len(missing) == 4


def test_native_cache_key_follows_ct_lumen_and_physics_not_ranks():
    from surgiplan.core.imaging.volume import Volume
    from surgiplan.core.simulation.vessel.case_study import native_cache_key

    rng = np.random.default_rng(3)
    arr = rng.integers(-100, 400, (6, 7, 8)).astype(np.int16)
    vol = Volume(arr, (0.5, 0.5, 1.0))
    mask = arr > 200
    k = native_cache_key(vol, mask, "vessel-rest", {"flow_mL_s": 6})
    assert k == native_cache_key(vol, mask.copy(), "vessel-rest", {"flow_mL_s": 6, "n_ranks": 2, "pre": True,
                                                                   "stent": True})
    # the CLI's --option flow_mL_s=6 (int) and the window's 6.0 are the same physics
    assert k == native_cache_key(vol, mask, "vessel-rest", {"flow_mL_s": 6.0})
    m2 = mask.copy()
    m2[3, 3, 3] = not m2[3, 3, 3]
    a2 = arr.copy()
    a2[0, 0, 0] += 1
    others = {native_cache_key(vol, m2, "vessel-rest", {"flow_mL_s": 6}),
              native_cache_key(Volume(a2, (0.5, 0.5, 1.0)), mask, "vessel-rest", {"flow_mL_s": 6}),
              native_cache_key(Volume(arr, (0.5, 0.5, 1.1)), mask, "vessel-rest", {"flow_mL_s": 6}),
              native_cache_key(vol, mask, "vessel-exercise", {"flow_mL_s": 6}),
              native_cache_key(vol, mask, "vessel-rest", {"flow_mL_s": 20}),
              native_cache_key(vol, mask, "vessel-rest", {"flow_mL_s": 6, "viscosity": "carreau-yasuda"}),
              native_cache_key(vol, mask, "vessel-rest", {"flow_mL_s": 6, "h_max_mm": 2.0})}
    assert k not in others and len(others) == 7


def test_study_rows_show_the_native_values_beside_each_plan(tmp_path):
    """The plan comparison (CLI, Compare step, report) reads the 'before' rows of a pre/post summary."""
    from surgiplan.core.case import Case
    from surgiplan.core.case.schema import StudyRef
    from surgiplan.core.simulation.case_studies import study_rows

    case = Case.new(tmp_path / "c", name="c")
    for plan, native in (("A", {"status": "solved"}), ("B", {"status": "failed", "reason": "did not converge"})):
        case.new_plan(plan)
        folder = tmp_path / "c" / "studies" / f"{plan}--vessel-rest"
        folder.mkdir(parents=True)
        summary = {"case_study": {"plan": plan, "study": "vessel-rest"},
                   "key_results": [_key("pressure drop across the lesion", 1.0, "mmHg", "stenosis")],
                   "pre_post": {"native": native, "rows": [
                       {"quantity": "pressure drop across the lesion", "region": "stenosis", "unit": "mmHg",
                        "pre": 4.0 if plan == "A" else None, "post": 1.0, "change": -3.0}]}}
        (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        case.model.studies.append(StudyRef(name=f"{plan}--vessel-rest", path=f"studies/{plan}--vessel-rest",
                                           plan=plan))
    rows = study_rows(case, ["A", "B"])
    before = "vessel-rest before the stent (native lumen)"
    assert {"plan": "A", "study": before, "label": "pressure drop across the lesion", "value": 4.0, "unit": "mmHg",
            "region": "stenosis"} in rows
    failed = [r for r in rows if r["plan"] == "B" and r["study"] == before]
    assert len(failed) == 1 and failed[0]["value"] == "missing: did not converge"
    assert sum(r["study"] == "vessel-rest" for r in rows) == 2


# ------------------------------------------------------------------------------------ the real pair (opt-in)
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from surgiplan.core.simulation.case_studies import run_case_study
    from tests.core.simulation._vessel_tiny_case import tiny_vessel_case

    root = tmp_path_factory.mktemp("pair") / "tube"
    tiny_vessel_case(root, plans=("A", "B"))
    return root, run_case_study(root, "A", "vessel-rest", options=dict(FLOW))


@PAIR
def test_pair_solves_native_and_stented_with_the_same_physiology(pair):
    root, s = pair
    pp = s["pre_post"]
    assert pp["native"]["status"] == "solved", pp["native"]
    assert pp["same_physiology"]["identical_before_and_after"] is True
    assert pp["same_physiology"]["inflow_mL_s"] == 1.0
    rows = {r["quantity"]: r for r in pp["rows"]}
    drop = rows["pressure drop across the lesion"]
    # 40 % diameter stenosis (64 % area) opened to the healthy 5 mm: the lesion's pressure loss falls
    assert drop["pre"] > 0 and drop["post"] < 0.5 * drop["pre"]
    assert rows["minimal lumen diameter (model)"]["pre"] == pytest.approx(3.0, abs=0.4)
    assert rows["minimal lumen diameter (model)"]["post"] >= 4.5
    assert rows["maximal wall shear stress"]["post"] < rows["maximal wall shear stress"]["pre"]
    assert rows["flow through outlet_1"]["pre"] == pytest.approx(1.0, rel=1e-3)
    assert rows["flow through outlet_1"]["post"] == pytest.approx(1.0, rel=1e-3)
    native = root / pp["native"]["folder"]
    assert json.loads((native / "summary.json").read_text())["native_cache"]["key"] == pp["native"]["key"]
    stored = json.loads((root / "studies" / "A--vessel-rest" / "summary.json").read_text())
    assert stored["pre_post"] == json.loads(json.dumps(pp))


@PAIR
def test_second_plan_reuses_the_native_and_cli_json_prints_the_pair(pair):
    root, s = pair
    native = root / s["pre_post"]["native"]["folder"]
    before = (native / "summary.json").stat().st_mtime_ns
    out = subprocess.run([sys.executable, "-m", "surgiplan.cli.main", "simulate", str(root), "--plan", "B",
                          "--study", "vessel-rest", "--option", "flow_mL_s=1.0", "--json"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    js = json.loads(out.stdout)
    assert js["pre_post"]["native"]["status"] == "reused"
    assert js["pre_post"]["native"]["key"] == s["pre_post"]["native"]["key"]
    assert (native / "summary.json").stat().st_mtime_ns == before  # not solved again
    pre_a = [r["pre"] for r in s["pre_post"]["rows"]]
    assert [r["pre"] for r in js["pre_post"]["rows"]] == pre_a
    assert "native lumen: stored result reused" in out.stderr
