"""The OR plan report: a PDF an operating-room team can work from (issue 25).

::

    content.py  gather_report: what the report says (plain data, no PDF)
    build.py    render_report (PDF bytes), make_report (checked, atomic file), check_report_output
    layout.py   paper, styles, header/footer of every page, figure flowable
    tables.py   implant, measurement, cut, screw, study, comparison and sign-off tables
    figures.py  Figure: a raster image with vector marks and orientation letters
    fonts.py    the embedded DejaVu fonts

The images are rendered by :class:`surgiplan.scene.report_figures.SceneFigures`, passed in as
``figures`` by the faces (core never imports the scene).
"""

from surgiplan.core.report.build import check_report_output, default_report_path, make_report, render_report
from surgiplan.core.report.content import ReportContent, gather_report

__all__ = ["ReportContent", "check_report_output", "default_report_path", "gather_report", "make_report",
           "render_report"]
