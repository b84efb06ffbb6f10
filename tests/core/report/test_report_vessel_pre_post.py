"""The OR report of a plan whose vessel study ran before and after the stent: the study's Before / After /
Change table and the native values in the plan comparison, read back from the PDF; a native that failed
is named with its reason."""

from __future__ import annotations

import json

from surgiplan.core.report import render_report
from tests.core.report.conftest import open_copy, pdf_text

WHERE = "stenosis, centreline to outlet_1"
ROWS = [{"quantity": "pressure drop across the lesion", "region": WHERE, "unit": "mmHg", "pre": 4.213,
         "post": 0.072, "change": -4.141},
        {"quantity": "mean wall shear stress", "region": "vessel wall", "unit": "Pa", "pre": 0.61, "post": 0.25,
         "change": -0.36}]


def _store(copy, plan: str, native: dict, rows) -> None:
    from surgiplan.core.case import Case
    from surgiplan.core.case.schema import StudyRef

    folder = copy / "studies" / f"{plan}--vessel-rest"
    folder.mkdir(parents=True)
    summary = {"case_study": {"plan": plan, "study": "vessel-rest"},
               "key_results": [{"label": r["quantity"], "value": r["post"], "unit": r["unit"], "region": r["region"]}
                               for r in rows],
               "pre_post": {"native": native, "same_physiology": {"inflow_mL_s": 6.0}, "rows": rows}}
    (folder / "summary.json").write_text(json.dumps(summary))
    case = Case.open(copy)
    case.model.studies.append(StudyRef(name=f"{plan}--vessel-rest", path=f"studies/{plan}--vessel-rest", plan=plan))
    case.dirty = True
    case.save()


def test_pre_post_table_and_native_rows_in_the_report(knee_case, knee_copy, tmp_path):
    _store(knee_copy, "A", {"status": "solved", "folder": "studies/native--vessel-rest--0123456789ab"}, ROWS)
    _store(knee_copy, "B", {"status": "failed", "reason": "Newton did not converge at Re 394"},
           [dict(r, pre=None, change=None) for r in ROWS])
    case = open_copy(knee_copy, knee_case)
    text = " ".join(pdf_text(render_report(case, "A", compare="B"), tmp_path, "-raw").split())
    assert "Before and after the stent (the same inflow, 6.0 mL/s" in text
    for r in ROWS:
        cells = " ".join(f"{r[k]:.4g} {r['unit']}" for k in ("pre", "post", "change"))
        assert cells in text, cells  # 4 significant digits: 4.213 -> 0.072 mmHg, not 4.2 -> 0.1
    assert "before the stent (native lumen)" in text  # the comparison's rows of the native values
    # the key results and the comparison's study rows: the same 4 digits, never the measurements' 0.1
    assert text.count("0.072 mmHg") >= 2, text.count("0.072 mmHg")
    assert "0.1 mmHg" not in text and "0.2 Pa" not in text  # 0.072 and 0.25 at 0.1 precision
    text_b = " ".join(pdf_text(render_report(case, "B"), tmp_path, "-raw").split())
    assert "No native (pre-stent) result: Newton did not converge at Re 394" in text_b
