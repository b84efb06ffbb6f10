"""Persistent settings (theme, layout, recent cases, last folders) in the user's config folder.

Stored as JSON under ``platformdirs.user_config_dir('surgiplan')`` (override
with ``SURGIPLAN_CONFIG_DIR``, used by tests), written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

MAX_RECENT = 10


def config_dir() -> Path:
    from surgiplan.core.appdirs import config_dir as _config_dir

    return _config_dir()


def cases_dir() -> Path:
    """Where new cases are created by default (user's documents/surgiplan)."""
    env = os.environ.get("SURGIPLAN_CASES_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_documents_dir()) / "surgiplan"


@dataclass
class Settings:
    theme: str = "dark"
    layout: str = "4-up"
    recent_cases: list[str] = field(default_factory=list)
    last_folder: str = ""
    #: where the last model export went (the export dialog starts there)
    last_export_folder: str = ""
    window_geometry: str = ""

    @classmethod
    def load(cls) -> Settings:
        path = config_dir() / "settings.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        s = cls(**known)
        if s.theme not in ("dark", "light"):
            s.theme = "dark"
        s.recent_cases = [str(p) for p in s.recent_cases][:MAX_RECENT]
        return s

    def save(self) -> None:
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.fileio import atomic_write_text

        try:
            atomic_write_text(config_dir() / "settings.json", json.dumps(asdict(self), indent=2))
        except SurgiplanError as exc:  # preferences are not patient data: never block the work
            import logging

            logging.getLogger(__name__).warning("settings not saved: %s", exc)

    def add_recent(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        self.recent_cases = [p] + [r for r in self.recent_cases if r != p]
        del self.recent_cases[MAX_RECENT:]
