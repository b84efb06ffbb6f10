"""Errors a person can act on.

Every message names the file or object, says what is wrong and what to do.
The CLI prints ``str(error)`` and exits non-zero; the GUI shows it in a dialog.
"""

from __future__ import annotations

from pathlib import Path


class SurgiplanError(Exception):
    """Base class of every error surgiplan raises on purpose.

    Parameters
    ----------
    message:
        What is wrong, in words a user understands.
    path:
        The file or folder concerned, if any; it is put in front of the message.
    hint:
        What to do about it; appended to the message.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        self.hint = hint
        text = message
        if self.path is not None:
            text = f"{self.path}: {text}"
        if hint:
            text = f"{text} {hint}" if text.endswith(".") else f"{text}. {hint}"
        super().__init__(text)


class InputError(SurgiplanError):
    """Input that cannot be read or used: missing, empty, truncated, wrong type."""


class GeometryError(SurgiplanError):
    """Inconsistent geometry: grids that don't match, degenerate orientation, bad transform."""


class MeshingError(SurgiplanError):
    """A surface or volume mesh could not be built or is not usable."""


class SolverError(SurgiplanError):
    """A simulation could not be solved: singular system, divergence, bad material."""


class CaseFormatError(SurgiplanError):
    """A case folder or case.json that is damaged, invalid or of an unknown version."""


class Cancelled(SurgiplanError):
    """The user cancelled a long operation; nothing was written."""

    def __init__(self, message: str = "Cancelled by the user; nothing was changed.", **kw):
        super().__init__(message, **kw)
