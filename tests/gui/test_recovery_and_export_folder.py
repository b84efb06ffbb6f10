"""Issue 28 small ones: every never-saved autosave is offered at start (not only the newest),
and the last export folder survives into the next session (settings)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]


def _unsaved_case_with_autosave(name: str, plan: str) -> Path:
    from surgiplan.core.case import Case
    from surgiplan.core.case.autosave import write_autosave
    from surgiplan.core.imaging.volume import Volume

    case = Case.new(Path(os.environ["SURGIPLAN_CASES_DIR"]) / name, save=False)
    case.new_plan(plan)
    vol = Volume(np.full((4, 5, 6), 40, np.int16), (1.0, 1.0, 1.0))
    write_autosave(case, scans={"planning": (vol, None)})
    return case.root


def test_every_never_saved_autosave_is_offered_newest_first(window, qtbot):
    from surgiplan.core.case.autosave import list_autosaves

    older = _unsaved_case_with_autosave("Older", "Plan old")
    time.sleep(0.05)
    newer = _unsaved_case_with_autosave("Newer", "Plan new")
    assert [i.case_root for i in list_autosaves()] == [newer, older]
    offered = []
    orig = window.ask_recover

    def ask(info):
        offered.append(Path(info.case_root))
        window._auto_recover = Path(info.case_root) == older  # decline the newest, take the older
        return orig(info)

    window.ask_recover = ask
    assert window.recover_at_start()
    wait_jobs(qtbot, window)
    assert list(dict.fromkeys(offered)) == [newer, older]  # (opening asks again; answered from the first yes)
    assert window.case is not None and window.case.root == older and list(window.case.plans) == ["Plan old"]
    assert [i.case_root for i in list_autosaves()] == [older]  # the declined one was discarded


def test_last_export_folder_is_kept_in_the_settings(window, tmp_path):
    from surgiplan.gui.settings import Settings

    panel = window.panels["Models"]
    out = tmp_path / "exports"
    out.mkdir()
    assert panel.last_export_folder is None
    panel.last_export_folder = out  # what an export does when it has written its files
    assert Settings.load().last_export_folder == str(out)
    window.settings = Settings.load()  # a new session reads it back
    assert panel.last_export_folder == out and panel.export_start_folder() == out
