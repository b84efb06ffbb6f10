"""A case folder under faults and attack: full disk, read-only, kills, torn logs, links.

Each test drives the real command or the real Case, then checks: a clear message
naming the file, no traceback, the case byte-identical (or old-or-new after a
kill), nothing written outside the case, no temporary left.
"""

from __future__ import annotations

import json
import os
import random
import stat

import pytest

from surgiplan.core import fileio
from surgiplan.core.case import Case, audit
from surgiplan.core.case import save as case_save
from surgiplan.core.errors import CaseFormatError, SurgiplanError
from tests.core.case.case_faults import (
    case_state,
    cli,
    kill_during_replace,
    make_case,
    replace_and_watch,
    tree_digest,
)


def _clean_failure(r, *names):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    for n in names:
        assert n in r.stderr, r.stderr


# ------------------------------------------------------------------ full disk
def test_full_disk_during_model_replace_keeps_the_old_case(tiny_disk, tmp_path):
    mnt, fill, _ = tiny_disk
    root = mnt / "Case"
    old, new = make_case(root, tmp_path / "meshes", resolution=120)  # new model ~ 1.2 MB as VTP
    before = tree_digest(root)
    fill(300_000)
    r = cli("import-model", root, new, "--name", "bone", "--replace")
    _clean_failure(r, "disk is full", "bone.vtp")
    assert tree_digest(root) == before
    assert case_state(root) == "old"


def test_full_disk_during_plan_new_is_a_clear_error(tiny_disk, tmp_path):
    mnt, fill, _ = tiny_disk
    root = mnt / "Case"
    make_case(root, tmp_path / "meshes")
    before = tree_digest(root)
    fill(0)
    r = cli("plan", "new", root, "B")
    _clean_failure(r, "disk is full")
    assert tree_digest(root) == before
    assert [p.name for p in Case.open(root).plans.values()] == ["A"]


def test_read_only_case_folder_is_a_clear_error(tiny_disk, tmp_path):
    mnt, _, remount_ro = tiny_disk
    root = mnt / "Case"
    make_case(root, tmp_path / "meshes")
    before = tree_digest(root)
    remount_ro()
    r = cli("plan", "new", root, "B")
    _clean_failure(r, "read-only", str(root))
    assert tree_digest(root) == before


# ---------------------------------------------------------------------- kills
def test_kill_at_random_moments_of_a_model_replace_leaves_old_or_new(tmp_path):
    """A few of the benchmark's trials (benchmarks/bench_safe_saves.py runs 30+): kills in the save."""
    rng = random.Random(21)
    root = tmp_path / "Case"
    _, new = make_case(root, tmp_path / "meshes", resolution=200)
    status, first, end = replace_and_watch(root, new)
    assert status == 0 and first < end
    window = end - first
    for trial in range(4):
        root_t = tmp_path / f"Case{trial}"
        _, new = make_case(root_t, tmp_path / f"m{trial}", resolution=200)
        kill_during_replace(root_t, new, rng.uniform(0.0, window))
        state = case_state(root_t)
        assert state in ("old", "new"), state


def test_a_decided_save_is_finished_by_the_next_open(tmp_path):
    root = tmp_path / "Case"
    case = Case.new(root, "Journal")
    case.new_plan("A")
    case.save()
    case.new_plan("B")
    case.model.modified = audit.now_iso()
    # stage and decide a save by hand, as if the process died right after the journal
    tx = case_save.SaveTransaction(root)
    tx.stage_text("plans/B/plan.json", (root / "plans/A/plan.json").read_text().replace('"A"', '"B"'))
    tx.stage_text("case.json", json.dumps(json.loads(
        (root / "case.json").read_text()) | {"plans": [{"name": "A", "path": "plans/A/plan.json"},
                                                       {"name": "B", "path": "plans/B/plan.json"}]}))
    journal = {"format": "surgiplan-save-journal", "save": "feedfacefeedface",
               "renames": [[str(t.relative_to(root)), str(f.relative_to(root))] for t, f in tx.renames],
               "remove": [], "audit": [audit.entry("new plan B", "test", save="feedfacefeedface")]}
    fileio.atomic_write_text(root / case_save.JOURNAL, json.dumps(journal))
    reopened = Case.open(root)
    assert list(reopened.plans) == ["A", "B"]
    assert any("interrupted" in n for n in reopened.recovery_notes)
    assert not (root / case_save.JOURNAL).exists()
    whats = [e["what"] for e in reopened.audit_log()]
    assert whats.count("new plan B") == 1 and any("interrupted" in w for w in whats)
    # opening again changes nothing more
    before = tree_digest(root)
    Case.open(root)
    assert tree_digest(root) == before


def test_an_undecided_save_leaves_the_old_case_and_its_temporaries_go(tmp_path):
    root = tmp_path / "Case"
    case = Case.new(root, "Stale")
    case.save()
    before = tree_digest(root)
    tx = case_save.SaveTransaction(root)
    tx.stage_text("case.json", "{}")
    tmp = tx.renames[0][0]
    assert tmp.exists()
    # the staging process is gone: a temporary from a dead pid
    dead = tmp.with_name(tmp.name.replace(f".{os.getpid()}.", ".999999."))
    os.rename(tmp, dead)
    reopened = Case.open(root)
    assert not dead.exists() and reopened.recovery_notes
    after = tree_digest(root)
    assert {k: v for k, v in after.items() if k != "history.jsonl"} == \
        {k: v for k, v in before.items() if k != "history.jsonl"}


@pytest.mark.parametrize("journal", [
    "{not json", json.dumps({"format": "surgiplan-save-journal", "save": "x", "renames":
                             [["../../etc/.x.1.abcdef01.sptmp", "../../etc/passwd"]], "remove": [],
                             "audit": []}),
    json.dumps({"format": "surgiplan-save-journal", "save": "x", "renames": [], "remove": ["/"],
                "audit": []}),
])
def test_a_hostile_journal_is_refused_and_nothing_moves(tmp_path, journal):
    root = tmp_path / "Case"
    Case.new(root, "Hostile").save()
    (root / case_save.JOURNAL).write_text(journal)
    before = tree_digest(root)
    with pytest.raises(SurgiplanError) as exc:
        Case.open(root)
    assert case_save.JOURNAL in str(exc.value) or "outside" in str(exc.value)
    assert tree_digest(root) == before


# ---------------------------------------------------------------- audit log
def test_a_torn_last_audit_line_does_not_swallow_the_next_entry(tmp_path):
    root = tmp_path / "Case"
    case = Case.new(root, "Torn")
    log = root / "history.jsonl"
    torn_line = len(log.read_text().splitlines()) + 1
    with open(log, "ab") as fh:
        fh.write(b'{"when": "2026-12-07T00:00:00Z", "who": "x", "what": "half')  # crash mid-append
    case.new_plan("A")
    case.save()
    entries, warnings = audit.read_audit(log)
    assert "new plan A" in [e["what"] for e in entries]
    assert len(warnings) == 1 and f"line {torn_line} " in warnings[0] and "history.jsonl" in warnings[0]


def test_audit_log_as_a_folder_is_refused_before_anything_is_saved(tmp_path):
    root = tmp_path / "Case"
    case = Case.new(root, "Dir")
    (root / "history.jsonl").unlink()
    (root / "history.jsonl").mkdir()
    before = tree_digest(root)
    r = cli("plan", "new", root, "B")
    _clean_failure(r, "history.jsonl", "not a regular file")
    assert tree_digest(root) == before
    with pytest.raises(CaseFormatError, match="history.jsonl"):
        case.new_plan("C")
        case.save()
    assert tree_digest(root) == before


def test_audit_log_as_a_symlink_is_never_followed(tmp_path):
    root = tmp_path / "Case"
    Case.new(root, "Link")
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    (root / "history.jsonl").unlink()
    (root / "history.jsonl").symlink_to(outside)
    before = tree_digest(root)
    r = cli("plan", "new", root, "B")
    _clean_failure(r, "history.jsonl", "symbolic link")
    assert outside.read_text() == "precious\n"
    assert tree_digest(root) == before


# ------------------------------------------------------------ links and paths
def test_a_models_folder_linked_outside_is_refused(tmp_path):
    root = tmp_path / "Case"
    make_case(root, tmp_path / "meshes")
    elsewhere = tmp_path / "elsewhere"
    (root / "models").rename(elsewhere)
    (root / "models").symlink_to(elsewhere)
    before = tree_digest(elsewhere)
    r = cli("case", "info", root)
    _clean_failure(r, "symbolic link")
    assert tree_digest(elsewhere) == before


@pytest.mark.parametrize("path", ["../../outside.vtp", "/etc/hostname", "models/../../x.vtp"])
def test_case_json_paths_leading_outside_are_refused(tmp_path, path):
    root = tmp_path / "Case"
    make_case(root, tmp_path / "meshes")
    cj = root / "case.json"
    data = json.loads(cj.read_text())
    data["models"][0]["path"] = path
    cj.write_text(json.dumps(data))
    before = tree_digest(root)
    with pytest.raises(CaseFormatError, match="outside|inside the case|relative to the case"):
        Case.open(root)
    r = cli("case", "info", root)
    _clean_failure(r, "case.json")
    assert tree_digest(root) == before


def test_files_keep_the_umask_mode_and_an_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        root = tmp_path / "Case"
        case = Case.new(root, "Modes")
        assert stat.S_IMODE(os.stat(root / "case.json").st_mode) == 0o644
        os.chmod(root / "case.json", 0o640)
        case.new_plan("A")
        case.save()
        assert stat.S_IMODE(os.stat(root / "case.json").st_mode) == 0o640
        assert stat.S_IMODE(os.stat(root / "plans/A/plan.json").st_mode) == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize("damage", ["deep", "digits", "huge"])
def test_hostile_case_json_is_refused_naming_it(tmp_path, damage):
    root = tmp_path / "Case"
    Case.new(root, "Json").save()
    cj = root / "case.json"
    text = cj.read_text()
    if damage == "deep":
        cj.write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "digits":
        cj.write_text(text.replace('"name"', '"x": ' + "9" * 5000 + ', "name"', 1))
    else:
        with open(cj, "ab") as fh:  # sparse: 65 MB claimed, nothing allocated
            fh.truncate(65 * 1024 * 1024)
    before = tree_digest(root)
    with pytest.raises(CaseFormatError, match="case.json"):
        Case.open(root)
    r = cli("case", "info", root)
    _clean_failure(r, "case.json")
    assert tree_digest(root) == before


def test_a_case_name_longer_than_the_file_system_allows_is_refused(tmp_path):
    r = cli("case", "new", tmp_path / ("x" * 300))
    _clean_failure(r)
    assert "long" in r.stderr
    assert list(tmp_path.iterdir()) == []
