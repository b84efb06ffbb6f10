"""The QApplication: high-DPI settings, application identity and the light/dark themes.

Themes only change the chrome (panels, menus, text). Image viewports keep a
black background and greyscale/medical colour maps in both themes, so a CT
window looks the same whatever the theme.
"""

from __future__ import annotations

import os
import sys

from PySide6 import QtCore, QtGui, QtWidgets

THEMES = ("dark", "light")

ACCENT = "#3d8ee6"

_DARK = {
    "window": "#1f2226", "base": "#16181b", "alt": "#24282d", "text": "#dfe3e8",
    "button": "#2a2e34", "mid": "#3a3f46", "disabled": "#6c737c", "highlight": ACCENT,
    "panel": "#1a1d21", "border": "#33383f",
}
_LIGHT = {
    "window": "#eef0f3", "base": "#ffffff", "alt": "#f4f6f8", "text": "#1d232a",
    "button": "#e3e7ec", "mid": "#c5ccd4", "disabled": "#9aa3ad", "highlight": ACCENT,
    "panel": "#f7f8fa", "border": "#cfd5dc",
}


def colors(theme: str) -> dict[str, str]:
    """The chrome colours of ``theme`` ('dark' or 'light')."""
    return _DARK if theme == "dark" else _LIGHT


def make_app(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The (single) QApplication, created high-DPI aware with surgiplan's identity."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        QtGui.QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        os.environ.setdefault("QT_ENABLE_HIGHDPI_SCALING", "1")
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("surgiplan")
    app.setOrganizationName("surgiplan")
    app.setApplicationDisplayName("surgiplan")
    _import_schemas_on_this_thread()
    return app  # type: ignore[return-value]


def _import_schemas_on_this_thread() -> None:
    """Import pydantic's schema machinery and the case schema here, on the GUI thread, before any worker.

    A worker thread (opening a case, a sample) builds the first pydantic models; meanwhile PySide6's import
    hook on this thread inspects each new module (``hasattr(module, "__wrapped__")``), which on a pydantic
    module imports ``pydantic._internal._validators`` lazily. Two threads importing it at once gave
    "cannot import name 'import_string' from partially initialized module" (CI, the installed bundle's
    window, once under load). Imported here first, both threads find it complete (about 0.2 s at start).
    """
    import pydantic._internal._generate_schema  # noqa: F401  (imports _validators)
    import pydantic._internal._validators  # noqa: F401

    import surgiplan.core.case.schema  # noqa: F401  (the case's pydantic models, built on this thread)


def apply_theme(app: QtWidgets.QApplication, theme: str) -> None:
    """Apply the 'dark' or 'light' chrome theme (Fusion style, palette and a small style sheet)."""
    c = colors(theme)
    app.setStyle("Fusion")
    pal = QtGui.QPalette()
    role = QtGui.QPalette.ColorRole
    pal.setColor(role.Window, QtGui.QColor(c["window"]))
    pal.setColor(role.WindowText, QtGui.QColor(c["text"]))
    pal.setColor(role.Base, QtGui.QColor(c["base"]))
    pal.setColor(role.AlternateBase, QtGui.QColor(c["alt"]))
    pal.setColor(role.Text, QtGui.QColor(c["text"]))
    pal.setColor(role.Button, QtGui.QColor(c["button"]))
    pal.setColor(role.ButtonText, QtGui.QColor(c["text"]))
    pal.setColor(role.ToolTipBase, QtGui.QColor(c["base"]))
    pal.setColor(role.ToolTipText, QtGui.QColor(c["text"]))
    pal.setColor(role.Highlight, QtGui.QColor(c["highlight"]))
    pal.setColor(role.HighlightedText, QtGui.QColor("#ffffff"))
    pal.setColor(role.Mid, QtGui.QColor(c["mid"]))
    pal.setColor(role.PlaceholderText, QtGui.QColor(c["disabled"]))
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(QtGui.QPalette.ColorGroup.Disabled, r, QtGui.QColor(c["disabled"]))
    app.setPalette(pal)
    app.setStyleSheet(
        f"""
        QToolTip {{ color: {c['text']}; background: {c['base']}; border: 1px solid {c['border']}; }}
        QStatusBar {{ border-top: 1px solid {c['border']}; }}
        QGroupBox {{ border: 1px solid {c['border']}; border-radius: 4px; margin-top: 14px;
                     padding: 8px 6px 6px 6px; font-weight: 600; }}
        QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; }}
        QTreeWidget, QTableWidget, QListWidget {{ border: 1px solid {c['border']}; }}
        QHeaderView::section {{ background: {c['alt']}; border: none;
                                border-bottom: 1px solid {c['border']}; padding: 3px 6px; }}
        QPushButton {{ padding: 4px 10px; border: 1px solid {c['border']}; border-radius: 3px;
                       background: {c['button']}; }}
        QPushButton:hover {{ border-color: {ACCENT}; }}
        QPushButton:default, QPushButton[primary="true"] {{ background: {ACCENT}; color: white;
                       border-color: {ACCENT}; }}
        QPushButton:checked {{ background: #2f5f8f; color: white; border-color: {ACCENT}; }}
        QPushButton:disabled {{ color: {c['disabled']}; }}
        QDockWidget::title {{ padding: 4px 8px; background: {c['alt']}; }}
        QLabel[role="heading"] {{ font-size: 13pt; font-weight: 600; }}
        QLabel[role="hint"] {{ color: {c['disabled']}; }}
        QLabel[role="warning"] {{ color: #e0a030; }}
        """
    )
    app.setProperty("surgiplan_theme", theme)


def current_theme(app: QtWidgets.QApplication | None = None) -> str:
    app = app or QtWidgets.QApplication.instance()
    return str(app.property("surgiplan_theme") or "dark") if app else "dark"
