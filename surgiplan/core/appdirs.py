"""The user folders surgiplan writes to (never its own installation folder) and the log file.

Every folder follows the platform's conventions (platformdirs) and has an environment
override for tests and managed installations:

==========  ==========================================  ========================
what        Linux default                               override
==========  ==========================================  ========================
settings    ``~/.config/surgiplan``                      ``SURGIPLAN_CONFIG_DIR``
data        ``~/.local/share/surgiplan`` (autosave,      ``SURGIPLAN_DATA_DIR``
            samples, user implants)
cache       ``~/.cache/surgiplan``                       ``SURGIPLAN_CACHE_DIR``
logs        ``~/.local/state/surgiplan/log``             ``SURGIPLAN_LOG_DIR``
==========  ==========================================  ========================

The form compiler's cache (FFCx/dolfinx) is ``$XDG_CACHE_HOME/fenics`` (``~/.cache/fenics``),
matplotlib's ``~/.config/matplotlib`` / ``~/.cache/matplotlib`` and fontconfig's
``~/.cache/fontconfig``: all user folders already.

:func:`setup_logging` adds a rotating log file (``surgiplan.log``, 1 MB x 5) that a support
person can ask for: Help > Open log folder shows it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

APP = "surgiplan"
LOG_FILE = "surgiplan.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 5


def _dir(env: str, kind: str) -> Path:
    value = os.environ.get(env)
    if value:
        return Path(value)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))


def config_dir() -> Path:
    """Settings folder (JSON preferences)."""
    return _dir("SURGIPLAN_CONFIG_DIR", "config")


def data_dir() -> Path:
    """User data folder (autosaves, generated sample scans, user implants)."""
    return _dir("SURGIPLAN_DATA_DIR", "data")


def cache_dir() -> Path:
    """Cache folder (anything that can be rebuilt)."""
    return _dir("SURGIPLAN_CACHE_DIR", "cache")


def log_dir() -> Path:
    """Folder of ``surgiplan.log`` and its rotated predecessors."""
    return _dir("SURGIPLAN_LOG_DIR", "log")


def log_path() -> Path:
    return log_dir() / LOG_FILE


_handler: logging.Handler | None = None


def setup_logging(role: str, level: int = logging.INFO) -> Path | None:
    """Send the ``surgiplan`` loggers (and warnings) to the rotating log file; its path.

    ``role`` (``cli``, ``gui``) goes into the first line with the version and build. Idempotent.
    A log folder that cannot be written never stops the app: then None is returned and nothing
    is logged to a file.
    """
    global _handler
    if _handler is not None:
        return Path(_handler.baseFilename)  # type: ignore[attr-defined]
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS,
                                                       encoding="utf-8", delay=False)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    for name in ("surgiplan", "py.warnings"):
        lg = logging.getLogger(name)
        lg.addHandler(handler)
        if lg.level == logging.NOTSET or lg.level > level:
            lg.setLevel(level)
    logging.captureWarnings(True)
    _handler = handler
    from surgiplan.core.appinfo import version_text

    logging.getLogger("surgiplan").info("start (%s): %s", role, version_text().replace("\n", "; "))
    return path
