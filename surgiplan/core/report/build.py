"""Make the OR plan report PDF of one plan: :func:`render_report` (bytes) and :func:`make_report` (file).

Pages, in the order templating reports put them (mediCAD, TraumaCad): summary with the implant
list first (sizes, quantities, backups) and the key targets; the images (3D views, slices with
outlines); the full measurement table; resections or pedicle screws; the simulations; the plan
comparison (with ``compare``); the sign-off. Header and footer on every page (layout.py).

Images come from ``figures`` (an object with ``plan_views``, ``slices``, ``study_views`` and
``comparison_views``; :class:`surgiplan.scene.report_figures.SceneFigures` renders them off
screen with the window's scene): core does not import the scene, the faces pass it in. Without
it, the report says where images would be.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.fileio import WriteError
from surgiplan.core.jobs import Progress, check_cancelled, report
from surgiplan.core.report.content import ReportContent, gather_report

MAX_FIGURES_PER_ROW = 3


def _open_case(case):
    from surgiplan.core.case import Case

    return case if hasattr(case, "plans") else Case.open(Path(case))


def _header(c: ReportContent) -> dict:
    who = " · ".join(f"{k}: {v}" for k, v in c.patient)
    approval = (f"APPROVED (plan locked) by {c.lock.by} at {c.lock.at}" if c.lock is not None
                else "NOT APPROVED: draft plan (not locked)")
    saved = "" if c.plan_saved else " (UNSAVED CHANGES)"
    return {
        "side": c.side,
        "procedure": c.procedure,
        "who": f"{who} · Study date: {c.study_date}",
        "line2": f"Plan {c.plan}, version {c.plan_version}{saved} · Planner: {c.planner}",
        "line3": f"Report made {c.generated} · Anatomy: {c.anatomy}",
        "approval": approval,
        "trace1": f"Case ID {c.case_label} · Plan {c.plan} version {c.plan_version}{saved} · {c.software}",
        "trace2": f"plan.json SHA-256 {c.plan_sha256}",
    }


def _figure_rows(figs, width, st, per_row=MAX_FIGURES_PER_ROW):
    from reportlab.platypus import Table, TableStyle

    from surgiplan.core.report.layout import FigureFlowable

    out = []
    gap = 4
    for i in range(0, len(figs), per_row):
        chunk = figs[i:i + per_row]
        w = (width - gap * (per_row - 1)) / per_row
        cells = [FigureFlowable(f, w) for f in chunk] + [""] * (per_row - len(chunk))
        t = Table([cells], colWidths=[w + gap] * per_row, hAlign="LEFT")
        t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "Report"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                               ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        out.append(t)
    return out


def _try_figures(fn, what: str, st, story) -> list:
    """Figures from ``fn()``; a paragraph saying why when they cannot be rendered."""
    from reportlab.platypus import Paragraph

    try:
        return list(fn())
    except Exception as exc:  # noqa: BLE001 - a failed render must not lose the report; it says so
        story.append(Paragraph(f"{what}: could not be rendered ({type(exc).__name__}: {exc}).", st["note"]))
        return []


def _story(case, c: ReportContent, st, width, figures, compare, progress):  # noqa: C901 - one page after another
    from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, Paragraph, Spacer

    from surgiplan.core.report import tables as tb
    from surgiplan.core.units import format_value

    s: list = []
    # ---------------------------------------------------------------- summary
    s.append(Paragraph(f"Plan summary: {c.procedure}, {c.side.lower()}", st["h1"]))
    status = (f"APPROVED: plan locked by {c.lock.by} at {c.lock.at}" + (f" ({c.lock.note})" if c.lock.note else "")
              if c.lock is not None else "NOT APPROVED: this plan is a draft (not locked). Do not operate from "
                                         "an unapproved plan.")
    s.append(Paragraph(status, st["banner"]))
    if c.plan_note:
        s.append(Paragraph(f"<b>Approach / plan notes:</b> {_esc(c.plan_note)}", st["body"]))
    s.append(Paragraph("Implants", st["h2"]))
    if c.implants:
        s.append(tb.implant_table(c, st, width))
    else:
        s.append(Paragraph("No implant in this plan.", st["body"]))
    kt = tb.key_targets_table(c, st, width)
    if kt is not None:
        s.append(Paragraph("Key targets and planned values", st["h2"]))
        s.append(kt)
    nt = tb.native_table(c, st, width * 0.7)
    if nt is not None:
        s.append(Spacer(1, 6))
        s.append(nt)
    if c.resections:
        s.append(Paragraph("Bone cuts (resection levels)", st["h2"]))
        s.append(tb.resection_table(c, st, width))
    if c.screws:
        s.append(CondPageBreak(60 * 2.83))
        s.append(Paragraph("Pedicle screws per level", st["h2"]))
        s.append(tb.screw_table(c, st, width))
    report(progress, 0.45, "rendering the 3D views")
    # ----------------------------------------------------------------- images
    s.append(PageBreak())
    s.append(Paragraph("Images", st["h1"]))
    if figures is None:
        s.append(Paragraph("Images not rendered (no renderer given).", st["note"]))
    else:
        views = _try_figures(lambda: figures.plan_views(case, c.plan, c.side), "3D views", st, s)
        if views:
            s.append(Paragraph("3D views: implants in place (dark), bone translucent; letters give the "
                               "patient direction at each edge (R/L, A/P, S/I).", st["small"]))
            s += _figure_rows(views, width, st)
        check_cancelled(progress)
        report(progress, 0.6, "slices through the implants")
        cut_labels = {r.name: f"{r.name.replace('_', ' ')} cut: "
                      + " / ".join(f"{k} {format_value(v, 'mm')}" for k, v in r.thickness_mm.items())
                      for r in c.resections}
        sl = _try_figures(lambda: figures.slices(case, c.plan, c.anatomy, cut_labels), "Slices", st, s)
        if sl:
            s.append(Paragraph("Slices of the planning scan through the implants (radiological convention: "
                               "patient right on the image's left); black lines with a white edge = implant "
                               "outlines, dashed = bone cuts, dash-dot = screw trajectories, dotted = the "
                               "lesion's ends.", st["small"]))
            s += _figure_rows(sl, width, st, per_row=3 if c.anatomy == "spine" or len(sl) > 2 else 2)
    check_cancelled(progress)
    # ----------------------------------------------------------- measurements
    s.append(PageBreak())
    s.append(Paragraph("Measurements", st["h1"]))
    s.append(Paragraph("Every measurement of the plan with its unit. Status: ✓ in range, ▲ HIGH / ▼ LOW = "
                       "outside the surgeon's target range (bold, boxed).", st["small"]))
    s.append(Spacer(1, 3))
    mt = tb.measurement_table(c, st, width)
    if mt is not None:
        s.append(mt)
    if c.screws:
        s.append(Paragraph("The pedicle screws' measurements are in the summary's screw table; its columns mean:",
                           st["body"]))
        sd = tb.screw_definitions_table(c, st, width)
        if sd is not None:
            s.append(sd)
    # ---------------------------------------------------- achieved vs planned
    scan, achieved = achieved_comparison(case, c.plan)
    if scan is not None:
        s.append(CondPageBreak(80 * 2.83))
        s.append(Paragraph(f"Achieved vs planned (post-operative scan {_esc(scan)})", st["h1"]))
        if isinstance(achieved, str):
            s.append(Paragraph(f"Cannot be shown: {_esc(achieved)}", st["body"]))
        else:
            s.append(Paragraph(f"Implants found in the post-operative scan's metal, registered to the planning "
                               f"scan. Difference = {achieved.difference_definition}; translations along the "
                               "patient's anatomical axes.", st["small"]))
            s.append(tb.comparison_table(achieved, st, width, column_prefix=""))
    # ------------------------------------------------------------- simulation
    report(progress, 0.7, "simulation results")
    s.append(CondPageBreak(80 * 2.83))
    s.append(Paragraph("Simulation", st["h1"]))
    if not c.studies:
        s.append(Paragraph("No simulation run for this plan.", st["body"]))
    for study in c.studies:
        s.append(Paragraph(f"Study: {_esc(study.name)}", st["h2"]))
        if study.problem:
            s.append(Paragraph(f"Cannot be shown: {_esc(study.problem)}", st["body"]))
            continue
        summ = study.summary
        setup = summ.get("setup", {})
        if isinstance(setup, dict) and setup:
            s.append(Paragraph("Set-up", st["body"]))
            s.append(tb.kv_table([(str(k).replace("_", " "), _setup_text(v)) for k, v in setup.items()
                                  if k not in ENGINEER_ONLY], st, width))
        s.append(Paragraph("Key results", st["body"]))
        s.append(tb.key_results_table(summ.get("key_results", []), st, width))
        if isinstance(summ.get("pre_post"), dict):  # a vessel study run before and after the plan's stent
            s += _pre_post_flowables(summ["pre_post"], st, width)
        s.append(Paragraph(f"<b>Solver verification:</b> {_esc(_plain(summ.get('verification', 'not stated')))}",
                           st["body"]))
        if figures is not None:
            figs = _try_figures(lambda study=study: figures.study_views(case, study, c.side), "Study images", st, s)
            s += _figure_rows(figs, width, st, per_row=2)
    # ------------------------------------------------------------- comparison
    if compare is not None:
        from surgiplan.core.planning.comparison import compare_plans

        report(progress, 0.8, f"comparing plans {c.plan} and {compare}")
        s.append(PageBreak())
        s.append(Paragraph(f"Plan comparison: {c.plan} and {compare}", st["h1"]))
        comp = compare_plans(case, [c.plan, compare])
        s.append(Paragraph(f"Difference = {comp.difference_definition}. Values outside the target range are "
                           "bold on grey with ▲.", st["small"]))
        s.append(tb.comparison_table(comp, st, width, _study_rows(case, [c.plan, compare])))
        if figures is not None:
            figs = _try_figures(lambda: figures.comparison_views(case, [c.plan, compare], c.side),
                                "Comparison images", st, s)
            s += _figure_rows(figs, width, st, per_row=2)
    # --------------------------------------------------------------- sign-off
    report(progress, 0.9, "sign-off")
    s.append(CondPageBreak(75 * 2.83))
    block = [Paragraph("Sign-off", st["h1"]),
             Paragraph(status, st["banner"]),
             tb.signoff_table(c, st, width),
             Spacer(1, 6),
             Paragraph(f"Traceability: case ID {c.case_label}; plan {c.plan} version {c.plan_version}; "
                       f"plan.json SHA-256 {c.plan_sha256}"
                       f"{'' if c.plan_saved else ' (of the plan as open: the case has unsaved changes)'}; "
                       f"{c.software}; {c.landmark_count} landmarks.", st["small"])]
    s.append(KeepTogether(block))
    return s


def achieved_comparison(case, plan: str):
    """``(scan, comparison)`` of the plan's implants as found in the case's latest registered
    post-operative scan (``surgiplan.core.twin``); ``(None, None)`` without such a scan, and the
    reason as text in place of the comparison when the implants cannot be measured."""
    from surgiplan.core.errors import SurgiplanError
    from surgiplan.core.twin.achieved import achieved_vs_planned, latest_postop_scan

    scan = latest_postop_scan(case)
    if scan is None:
        return None, None
    try:
        return scan, achieved_vs_planned(case, plan, scan).comparison
    except SurgiplanError as e:
        return scan, str(e)


def _pre_post_flowables(pp: dict, st, width: float) -> list:
    """The pre/post-stent table of a vessel study (native lumen before, the plan's stent after), or why
    the native result is missing."""
    from reportlab.platypus import Paragraph

    from surgiplan.core.report import tables as tb
    from surgiplan.core.units import display_unit

    nat, same = pp.get("native", {}), pp.get("same_physiology", {})
    out = [Paragraph(f"Before and after the stent (the same inflow, {_esc(same.get('inflow_mL_s'))} mL/s, and the "
                     "same outlet resistances)", st["body"])]
    if nat.get("status") == "failed":
        out.append(Paragraph(f"No native (pre-stent) result: {_esc(nat.get('reason'))}", st["body"]))
    rows = [tb.head(["Result", "Region", "Before (native)", "After (stent)", "Change"], st)]
    for r in pp.get("rows", []):
        # 4 significant digits: a ratio of 0.9989 or a drop of 0.072 mmHg would read 1.0 and 0.1 at 0.1 precision
        unit = "" if r.get("unit") in (None, "", "1") else display_unit(r["unit"])
        cells = [f"{float(r[k]):.4g}{unit}" if isinstance(r.get(k), int | float) else "–"
                 for k in ("pre", "post", "change")]
        rows.append([tb.P(_esc(r.get("quantity", "")), st["cell"]), tb.P(_esc(r.get("region") or "–"), st["cell"])]
                    + [tb.P(c, st["cell"]) for c in cells])
    out.append(tb.grid_table(rows, [0.3 * width, 0.22 * width, 0.16 * width, 0.16 * width, 0.16 * width]))
    return out


def _study_rows(case, plans) -> list[dict]:
    """Study rows of the comparison from the simulation registry, when it exists (contract):
    its rows (one per plan and key result) pivoted to one line per quantity with a value per plan."""
    try:
        from surgiplan.core.simulation import case_studies
    except ImportError:
        return []
    fn = getattr(case_studies, "study_rows", None)
    if fn is None:
        return []
    lines: dict[tuple, dict] = {}
    for r in fn(case, plans):
        label = f"{r.get('study', '')}: {r.get('label', '')}" + (f" ({r['region']})" if r.get("region") else "")
        key = (label, r.get("unit") or "")
        line = lines.setdefault(key, {"quantity": label, "unit": r.get("unit") or "", "values": {}})
        line["values"][r.get("plan")] = r.get("value")
    return list(lines.values())


#: set-up entries kept out of the OR report (an engineer's detail, summarised in another row and
#: stored in the study's summary.json)
ENGINEER_ONLY = frozenset({"mesh_quality"})
#: longest set-up text printed (characters); longer ones end with a pointer to summary.json
SETUP_TEXT_MAX = 400


def _setup_text(v) -> str:
    text = _plain(v)
    if len(text) <= SETUP_TEXT_MAX:
        return text
    return text[:SETUP_TEXT_MAX].rsplit(" ", 1)[0] + " … (in full in the study's summary.json)"


def _plain(v) -> str:
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_plain(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_plain(x) for x in v)
    return str(v)


def _esc(text) -> str:
    from xml.sax.saxutils import escape

    return escape(str(text))


def render_report(case, plan: str, *, compare: str | None = None, deidentify: bool = True, paper: str = "a4",
                  figures=None, progress: Progress | None = None) -> bytes:
    """The report of plan ``plan`` of ``case`` (a Case or a case folder) as PDF bytes; writes nothing.

    Parameters
    ----------
    case : Case or path
        The open case or its folder.
    plan, compare : str
        The plan to report; optionally a second plan for the comparison page.
    deidentify : bool
        Print a case label (``CASE-xxxxxxxx``) instead of the patient's name and ID (default).
    paper : {"a4", "letter"}
        Page size.
    figures : SceneFigures, optional
        The renderer of the images (see module docstring).
    """
    from reportlab import rl_config
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    from surgiplan.core.report.fonts import register_fonts
    from surgiplan.core.report.layout import FOOTER_H, HEADER_H, MARGIN, ReportCanvas, page_size, styles

    size = page_size(paper)
    case = _open_case(case)
    case.plan(plan)
    if compare is not None:
        case.plan(compare)
        if compare == plan:
            raise InputError(f"--compare names the reported plan {plan!r} itself", hint="Name another plan.")
    register_fonts()
    report(progress, 0.0, "gathering the plan")
    content = gather_report(case, plan, deidentify=deidentify, progress=progress)
    st = styles()
    buf = io.BytesIO()
    w, h = size
    frame = Frame(MARGIN, MARGIN + FOOTER_H, w - 2 * MARGIN, h - 2 * MARGIN - HEADER_H - FOOTER_H, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc = BaseDocTemplate(buf, pagesize=size, pageTemplates=[PageTemplate("page", [frame])],
                          title=f"OR plan report: {content.procedure}, plan {content.plan}",
                          author=content.software, subject=content.case_label, creator=content.software)
    story = _story(case, content, st, frame._width, figures, compare, progress)
    check_cancelled(progress)
    report(progress, 0.95, "writing the PDF")

    class _Canvas(ReportCanvas):
        header = _header(content)

    # binary streams (a quarter smaller, no slow pure-Python ASCII85 pass); the canvas starts in
    # the embedded font (else reportlab lists an unembedded Helvetica); reportlab's settings restored
    saved = rl_config.useA85, rl_config.canvas_basefontname
    rl_config.useA85, rl_config.canvas_basefontname = 0, "Report"
    try:
        doc.build(story, canvasmaker=_Canvas)
    finally:
        rl_config.useA85, rl_config.canvas_basefontname = saved
    return buf.getvalue()


def default_report_path(case, plan: str) -> Path:
    """``CASE/reports/<plan>.pdf``."""
    return Path(case.root) / "reports" / f"{plan}.pdf"


def check_report_output(case, out: str | Path, *, overwrite: bool = False) -> Path:
    """Refuse, before any work, an output that is not a new .pdf outside the case (its reports/
    folder excepted), that would replace an input, a link or a folder, or that cannot be written."""
    from surgiplan.core.fileio import check_name_length

    out = Path(out)
    check_name_length(out)
    if out.suffix.lower() != ".pdf":
        raise InputError("the report must be a .pdf file", path=out, hint="Give a name ending in .pdf.")
    root = Path(os.path.realpath(case.root))
    real = Path(os.path.realpath(out))
    if real.is_relative_to(root) and real.parent != root / "reports":
        raise InputError("the output lies inside the case folder (only its reports/ folder takes reports)",
                         path=out, hint="Write it to the case's reports/ folder or outside the case.")
    if os.path.lexists(out) and out.is_symlink():
        raise InputError("the output is a symbolic link, which surgiplan does not replace", path=out,
                         hint="Remove the link or choose another name.")
    if out.is_dir():
        raise InputError("the output is a folder, not a file", path=out, hint="Give a file name inside it.")
    if out.exists() and not out.is_file():
        raise InputError("the output exists and is not a regular file", path=out, hint="Choose a file name.")
    if out.exists() and not overwrite:
        raise InputError("the output file exists", path=out,
                         hint="Choose another name or pass --overwrite to replace it.")
    folder = Path(os.path.abspath(out)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise WriteError(f"cannot save here: {folder} is a file where a folder should be", path=out,
                         hint="Choose another output.")
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only = False
    if read_only:
        raise WriteError(f"cannot save here: {folder} is on a read-only file system", path=out,
                         hint="Choose an output on a writable disk.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(f"cannot save here: no permission to write in {folder}", path=out,
                         hint="Choose a folder you may write to.")
    return out


def make_report(case, plan: str, *, out: str | Path | None = None, compare: str | None = None,
                deidentify: bool = True, paper: str = "a4", overwrite: bool = False, figures=None,
                progress: Progress | None = None) -> Path:
    """Write the report of ``plan`` to ``out`` (default ``CASE/reports/<plan>.pdf``); returns the path.

    The output is checked before any work (:func:`check_report_output`) and written atomically
    (:func:`surgiplan.core.fileio.atomic_write_bytes`): never half a file, never over an input.
    See :func:`render_report` for the parameters.
    """
    from surgiplan.core.fileio import atomic_write_bytes, ensure_folder

    case = _open_case(case)
    case.plan(plan)
    out = Path(out) if out is not None else default_report_path(case, plan)
    check_report_output(case, out, overwrite=overwrite)
    data = render_report(case, plan, compare=compare, deidentify=deidentify, paper=paper, figures=figures,
                         progress=progress)
    ensure_folder(out.parent)
    atomic_write_bytes(out, data)
    report(progress, 1.0, f"report written: {out}")
    return out
