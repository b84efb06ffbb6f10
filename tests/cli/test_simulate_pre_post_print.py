"""``surgiplan simulate``'s plain output of a vessel study with a pre/post pair: the text 'lumen' row, the
before -> after lines, and the reason when the native lumen did not solve."""

from __future__ import annotations

from pathlib import Path

from surgiplan.cli.simulate import _print_summary

ROWS = [{"quantity": "pressure drop across the lesion", "region": "stenosis", "unit": "mmHg", "pre": 0.105,
         "post": 0.025, "change": -0.08},
        {"quantity": "distal/proximal pressure ratio", "region": "stenosis", "unit": "1", "pre": 0.9989,
         "post": 0.9997, "change": 0.0008}]


def _summary(native: dict, rows) -> dict:
    return {"physics": "flow", "study": "vessel-rest", "solver": {"dofs": 40564, "method": "direct"},
            "key_results": [{"label": "lumen", "value": "stented (vascular_stent_be 6x18)", "unit": "",
                             "region": "lesion"},
                            {"label": "pressure drop across the lesion", "value": 0.025, "unit": "mmHg",
                             "region": "stenosis"}],
            "pre_post": {"native": native, "same_physiology": {"inflow_mL_s": 1.0,
                                                               "identical_before_and_after": True}, "rows": rows}}


def test_pre_post_lines(capsys):
    _print_summary(_summary({"status": "reused", "folder": "studies/native--vessel-rest--c22272f771e9"}, ROWS),
                   Path("out"))
    out = capsys.readouterr().out
    assert "lesion: lumen stented (vascular_stent_be 6x18)" in out
    assert "native lumen, reused: studies/native--vessel-rest--c22272f771e9" in out
    assert "same outlet resistances: yes" in out
    assert "pressure drop across the lesion (stenosis): 0.105 -> 0.025 mmHg (change -0.08)" in out
    assert "distal/proximal pressure ratio (stenosis): 0.9989 -> 0.9997 (change 0.0008)" in out


def test_failed_native_is_named_with_its_reason(capsys):
    native = {"status": "failed", "reason": "Newton did not converge at Re 394", "hint": "Try --option flow_mL_s=6"}
    _print_summary(_summary(native, [dict(r, pre=None, change=None) for r in ROWS]), Path("out"))
    out = capsys.readouterr().out
    assert "no native result: Newton did not converge at Re 394" in out and "Try --option flow_mL_s=6" in out
    assert "pressure drop across the lesion (stenosis): - -> 0.025 mmHg (change -)" in out
