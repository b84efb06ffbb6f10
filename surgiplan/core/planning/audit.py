"""The case's append-only audit log ``history.jsonl``: who changed what, and when.

One JSON object per line: ``{"when": ISO-8601 UTC, "who": user, "what": text, ...details}``.
Lines are only ever appended (opened in append mode, flushed and fsynced); a
damaged line is reported by :func:`read_audit` and never rewritten.
"""

from __future__ import annotations

import getpass
import json
import os
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
    """Append ``entries`` to ``path`` (one JSON line each), flushed to disk."""
    if not entries:
        return
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def read_audit(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """All entries of ``path`` and a list of warnings for lines that could not be read."""
    path = Path(path)
    if not path.exists():
        return [], []
    out: list[dict[str, Any]] = []
    warnings: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            warnings.append(f"{path}: line {n} is not valid JSON and was skipped")
            continue
        if isinstance(obj, dict):
            out.append(obj)
        else:
            warnings.append(f"{path}: line {n} is not an object and was skipped")
    return out, warnings
