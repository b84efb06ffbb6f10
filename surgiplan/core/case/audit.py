"""The case's append-only audit log ``history.jsonl``: who changed what, and when.

One JSON object per line: ``{"when": ISO-8601 UTC, "who": user, "what": text, ...details}``.
Lines are only ever appended (opened in append mode, flushed and fsynced); a
damaged line is reported by :func:`read_audit` and never rewritten.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def now_iso() -> str:
    """Current time, ISO 8601 UTC with seconds (e.g. ``2026-11-23T09:01:02Z``)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def current_user() -> str:
    """The login name of the person running surgiplan (``SURGIPLAN_USER`` overrides it)."""
    env = os.environ.get("SURGIPLAN_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def entry(what: str, who: str, **details: Any) -> dict[str, Any]:
    """One audit entry stamped now."""
    return {"when": now_iso(), "who": who, "what": what, **details}


def append_audit(path: Path, entries: list[dict[str, Any]]) -> None:
    """Append ``entries`` to ``path`` (one JSON line each), flushed to disk.

    The file is opened without following a symbolic link and must be a regular file
    (CaseFormatError otherwise). When the last line was torn (a crash mid-append left
    no newline), the new entries start on a fresh line so none of them is swallowed.
    """
    from surgiplan.core import fileio
    from surgiplan.core.errors import CaseFormatError

    if not entries:
        return
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    path = Path(path)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, fileio.default_mode())
    except OSError as exc:
        if os.path.islink(path):
            raise CaseFormatError("the audit log is a symbolic link, which surgiplan does not follow",
                                  path=path, hint="Replace the link with the real file.") from None
        raise fileio.write_error(path, exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CaseFormatError("the audit log is not a regular file", path=path,
                                  hint="Move it away and save again.")
        if st.st_size > 0 and os.pread(fd, 1, st.st_size - 1) != b"\n":
            text = "\n" + text
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except OSError as exc:
        raise fileio.write_error(path, exc) from None
    finally:
        os.close(fd)


def read_audit(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """All entries of ``path`` and a list of warnings for lines that could not be read.

    A symbolic link or anything but a regular file is not read (one warning).
    """
    path = Path(path)
    if not os.path.lexists(path):
        return [], []
    try:
        st = os.lstat(path)
    except OSError as exc:
        return [], [f"{path}: cannot be read ({exc.strerror})"]
    if not stat.S_ISREG(st.st_mode):
        return [], [f"{path}: is not a regular file (a link or folder) and was not read"]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [f"{path}: cannot be read ({exc.strerror})"]
    out: list[dict[str, Any]] = []
    warnings: list[str] = []
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError, ValueError):
            warnings.append(f"{path}: line {n} is not valid JSON (torn or damaged) and was skipped")
            continue
        if isinstance(obj, dict):
            out.append(obj)
        else:
            warnings.append(f"{path}: line {n} is not an object and was skipped")
    return out, warnings
