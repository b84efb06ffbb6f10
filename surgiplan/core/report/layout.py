"""Page layout of the OR plan report: paper, styles, the header and footer of every page, figures.

Every page carries (drawn once the page count is known, so "page x of y" is right):

* header: procedure, case label or patient, study date, plan name and version, planner,
  approval state, the date made, and a black box with the operated side in large white
  capitals (LEFT / RIGHT / BILATERAL: unmistakable in greyscale);
* the notice "For surgical planning; verify intra-operatively";
* footer: traceability (case ID, plan version, SHA-256 of plan.json, software version).

Sizes are in points (1/72 inch) unless named ``_mm``. Black, white and greys only carry
meaning; colour (if any) is never the only cue.
"""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Flowable

from surgiplan.core.errors import InputError

PAPERS = {"a4": A4, "letter": LETTER}
MARGIN = 14 * mm
HEADER_H = 31 * mm
FOOTER_H = 11 * mm
NOTICE = "For surgical planning; verify intra-operatively."
GREY_DARK = colors.Color(0.2, 0.2, 0.2)
GREY_MID = colors.Color(0.55, 0.55, 0.55)
GREY_LIGHT = colors.Color(0.88, 0.88, 0.88)
GREY_PALE = colors.Color(0.95, 0.95, 0.95)


def page_size(paper: str) -> tuple[float, float]:
    """(width, height) in points of ``"a4"`` or ``"letter"``; InputError otherwise."""
    try:
        return PAPERS[str(paper).lower()]
    except KeyError:
        raise InputError(f"unknown paper size {paper!r}", hint="Use a4 or letter.") from None


def styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles (DejaVu, embedded; see fonts.py)."""
    base = ParagraphStyle("body", fontName="Report", fontSize=9, leading=11.5)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9),
        "cell": ParagraphStyle("cell", parent=base, fontName="Report-Cond", fontSize=8.5, leading=10),
        "head": ParagraphStyle("head", parent=base, fontName="Report-Cond", fontSize=8.5, leading=10,
                               textColor=colors.white),
        "cell_small": ParagraphStyle("cell_small", parent=base, fontName="Report-Cond", fontSize=7, leading=8.2),
        "cell_big": ParagraphStyle("cell_big", parent=base, fontName="Report-Bold", fontSize=11, leading=13),
        "h1": ParagraphStyle("h1", parent=base, fontName="Report-Bold", fontSize=14, leading=17, spaceBefore=2,
                             spaceAfter=5),
        "h2": ParagraphStyle("h2", parent=base, fontName="Report-Bold", fontSize=11, leading=14, spaceBefore=8,
                             spaceAfter=4),
        "note": ParagraphStyle("note", parent=base, fontSize=9, leading=11.5, textColor=GREY_DARK),
        "banner": ParagraphStyle("banner", parent=base, fontName="Report-Bold", fontSize=11, leading=14,
                                 borderColor=colors.black, borderWidth=1.2, borderPadding=5,
                                 spaceBefore=4, spaceAfter=8),
    }


class ReportCanvas(rl_canvas.Canvas):
    """A canvas that draws the header and footer on every page once all pages are known."""

    header: dict = {}

    def __init__(self, *args, **kw):
        kw.setdefault("initialFontName", "Report")  # no unembedded Helvetica resource
        kw.setdefault("initialFontSize", 9)
        super().__init__(*args, **kw)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for i, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            draw_header_footer(self, self.header, i, total)
            super().showPage()
        super().save()


def _fit(c, text: str, font: str, size: float, width: float) -> str:
    """``text`` shortened with an ellipsis so that it fits ``width`` points."""
    if c.stringWidth(text, font, size) <= width:
        return text
    while text and c.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def draw_header_footer(c, h: dict, page: int, total: int) -> None:
    """Header, notice and traceability footer of one page (see module docstring)."""
    w, ht = c._pagesize
    top = ht - MARGIN
    left, right = MARGIN, w - MARGIN
    side_w = 46 * mm
    # side box: black, white capitals
    c.setFillColor(colors.black)
    c.rect(right - side_w, top - 17 * mm, side_w, 17 * mm, stroke=0, fill=1)
    c.setFillColor(colors.white)
    side = h["side"]
    size = 26 if len(side) <= 5 else 17 if len(side) <= 9 else 12
    c.setFont("Report-Bold", size)
    c.drawCentredString(right - side_w / 2, top - 11.5 * mm - (size - 26) * 0.15, side)
    c.setFont("Report", 6.5)
    c.drawCentredString(right - side_w / 2, top - 15.5 * mm, "OPERATIVE SIDE")
    c.setFillColor(colors.black)
    text_w = right - side_w - 4 * mm - left
    c.setFont("Report-Bold", 13)
    c.drawString(left, top - 4.5 * mm, _fit(c, h["procedure"], "Report-Bold", 13, text_w))
    c.setFont("Report-Bold", 9.5)
    c.drawString(left, top - 9.5 * mm, _fit(c, h["who"], "Report-Bold", 9.5, text_w))
    c.setFont("Report", 8)
    c.drawString(left, top - 13.5 * mm, _fit(c, h["line2"], "Report", 8, text_w))
    c.drawString(left, top - 17 * mm, _fit(c, h["line3"], "Report", 8, text_w))
    # approval state and notice
    y = top - 22.5 * mm
    c.setFont("Report-Bold", 9)
    c.drawString(left, y, _fit(c, h["approval"], "Report-Bold", 9, right - left - 40 * mm))
    c.setFont("Report-Bold", 9)
    c.drawRightString(right, y, f"Page {page} of {total}")
    c.setFont("Report", 8)
    c.drawString(left, y - 4 * mm, NOTICE)
    c.setLineWidth(1.0)
    c.line(left, top - HEADER_H + 2 * mm, right, top - HEADER_H + 2 * mm)
    # footer
    fy = MARGIN
    c.setLineWidth(0.5)
    c.line(left, fy + 7 * mm, right, fy + 7 * mm)
    c.setFont("Report-Cond", 6.8)
    c.drawString(left, fy + 3.8 * mm, _fit(c, h["trace1"], "Report-Cond", 6.8, right - left))
    c.drawString(left, fy + 0.8 * mm, _fit(c, h["trace2"], "Report-Cond", 6.8, right - left - 30 * mm))
    c.drawRightString(right, fy + 0.8 * mm, NOTICE.split(";")[0])


def caption_lines(text: str, width: float, max_lines: int = 2) -> list[str]:
    """A figure caption broken at spaces into at most ``max_lines`` lines of ``width`` points (7.5 pt
    ``Report`` font); the last line is shortened with an ellipsis when the text is longer still."""
    from reportlab.lib.utils import simpleSplit

    lines = simpleSplit(str(text), "Report", 7.5, width) or [""]
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [" ".join(lines[max_lines - 1:])]
    return lines


class FigureFlowable(Flowable):
    """A :class:`~surgiplan.core.report.figures.Figure` at ``width`` points: the image, its vector
    marks (outlines with a white halo, dashed cut lines, trajectories), orientation letters in
    white boxes at the edges, an optional scale bar, and the caption below."""

    def __init__(self, figure, width: float, caption_style: ParagraphStyle | None = None):
        super().__init__()
        self.figure = figure
        self.width = width
        self.img_h = width * figure.aspect
        self.cap_lines = caption_lines(figure.caption, width)
        self.cap_h = 11 + 9 * (len(self.cap_lines) - 1)
        self.height = self.img_h + self.cap_h

    def wrap(self, avail_w, avail_h):
        return self.width, self.height

    def draw(self):
        from reportlab.lib.utils import ImageReader

        f, c = self.figure, self.canv
        w, h = self.width, self.img_h
        y0 = self.cap_h
        c.drawImage(ImageReader(f.image()), 0, y0, w, h)
        c.setStrokeColor(GREY_MID)
        c.setLineWidth(0.5)
        c.rect(0, y0, w, h, stroke=1, fill=0)

        def xy(p):
            return p[0] * w, y0 + (1.0 - p[1]) * h

        c.saveState()
        clip = c.beginPath()
        clip.rect(0, y0, w, h)
        c.clipPath(clip, stroke=0, fill=0)
        for halo in (True, False):  # a white halo under every black line: visible on bone and on air
            for m in f.marks:
                pts = [xy(p) for p in m.points]
                if len(pts) < 2:
                    continue
                path = c.beginPath()
                path.moveTo(*pts[0])
                for p in pts[1:]:
                    path.lineTo(*p)
                dash = {"cut": [5, 2.5], "axis": [6, 2, 1.5, 2], "lesion": [2, 1.5]}.get(m.style, [])
                c.setDash([] if halo else dash)
                c.setStrokeColor(colors.white if halo else colors.black)
                c.setLineWidth((3.2 if halo else 1.4) * (1.3 if m.style == "cut" else 1.0))
                c.drawPath(path, stroke=1, fill=0)
        c.restoreState()
        for lab in f.labels:
            x, y = xy((lab.x, lab.y))
            self._boxed(lab.text, x, y + 3, 7.5, lab.anchor, bold=True)
        left, right_, top, bottom = f.edges
        for text, x, y in ((left, 7, y0 + h / 2), (right_, w - 7, y0 + h / 2), (top, w / 2, y0 + h - 8),
                           (bottom, w / 2, y0 + 4)):
            if text:
                self._boxed(text, x, y - 2, 10, "centre", bold=True)
        if f.mm_per_px:
            self._scale_bar(w, h, y0)
        c.setFillColor(colors.black)
        c.setFont("Report", 7.5)
        for i, line in enumerate(self.cap_lines):
            c.drawString(0, 2 + 9 * (len(self.cap_lines) - 1 - i), _fit(c, line, "Report", 7.5, w))

    def _boxed(self, text, x, y, size, anchor, bold=False):
        c = self.canv
        font = "Report-Bold" if bold else "Report"
        tw = c.stringWidth(text, font, size)
        x0 = x - tw / 2 if anchor == "centre" else x - tw if anchor == "right" else x
        c.setFillColor(colors.white)
        c.rect(x0 - 1.5, y - 2, tw + 3, size + 2, stroke=0, fill=1)
        c.setFillColor(colors.black)
        c.setFont(font, size)
        c.drawString(x0, y, text)

    def _scale_bar(self, w, h, y0):
        f, c = self.figure, self.canv
        mm_per_pt = f.mm_per_px * f.width_px / w
        length_mm = next((x for x in (50, 20, 10, 5) if x / mm_per_pt <= w * 0.3), 5)
        bar = length_mm / mm_per_pt
        x, y = 14, y0 + 14
        c.setFillColor(colors.white)
        c.rect(x - 3, y - 3, bar + 6, 15, stroke=0, fill=1)
        c.setFillColor(colors.black)
        c.rect(x, y, bar, 2.5, stroke=0, fill=1)
        c.setFont("Report-Bold", 7)
        c.drawCentredString(x + bar / 2, y + 4, f"{length_mm} mm")
