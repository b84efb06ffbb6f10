"""Saving a case folder as one transaction: a kill at any moment leaves the old or the new case.

A save writes several files (models, segmentations, seeds, every ``plan.json``,
``case.json``) and appends to the audit log ``history.jsonl``. Each file alone is
written safely by :mod:`surgiplan.core.fileio`; together they are ordered so:

1. **stage**: every new file is written, checked and fsynced under a temporary
   name beside its target (nothing the case reads has changed yet; a kill here
   leaves stale temporaries, which the next open removes);
2. **journal**: ``.save-journal.json`` is written atomically: the renames to do
   (temporary -> target, ``case.json`` last), the plan folders to remove and the
   audit entries, tagged with a save id. Once it exists, the save is decided;
3. **apply**: the renames, the audit append (entries carry ``"save": id``), the
   removals, then the journal is deleted.

:func:`recover` (called by ``Case.open``) rolls a journal forward: renames whose
temporary still exists are done, audit entries whose save id is not yet in the
log are appended, then the journal goes. Without a journal, stale temporaries of
dead processes are removed. So a reader sees either the previous state or the
complete new one, never a new model beside an old ``case.json``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surgiplan.core import fileio
from surgiplan.core.case import audit
from surgiplan.core.errors import CaseFormatError, InputError

JOURNAL = ".save-journal.json"
AUDIT_FILE = "history.jsonl"


@dataclass
class SaveTransaction:
    """Files staged for one save of the case folder ``root``.

    Use :meth:`stage_text` / :meth:`stage_with` for every file, :meth:`remove_folder` for
    folders that go, then :meth:`commit` with the audit entries. :meth:`abort` (or an
    exception inside ``with``) removes what was staged.
    """

    root: Path
    renames: list[tuple[Path, Path]] = field(default_factory=list)
    removals: list[Path] = field(default_factory=list)

    def __enter__(self) -> SaveTransaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()

    def target(self, rel: str | Path) -> Path:
        """``root/rel`` checked to stay inside the case and cross no symbolic link."""
        p = fileio.check_inside(self.root, rel, "case file")
        if p.is_symlink():
            raise InputError("is a symbolic link, which surgiplan does not replace inside a case",
                             path=p, hint="Replace the link with the real file.")
        return p

    def stage_text(self, rel: str | Path, text: str) -> Path:
        """Stage a UTF-8 text file for ``root/rel``."""
        final = self.target(rel)
        self.renames.append((fileio.stage_text(final, text), final))
        return final

    def stage_with(self, rel: str | Path, write, **kw) -> Path:
        """Stage ``root/rel`` written by ``write(temporary_path)`` (see :func:`fileio.stage`)."""
        final = self.target(rel)
        self.renames.append((fileio.stage(final, write, **kw), final))
        return final

    def remove_folder(self, rel: str | Path) -> None:
        """Remove folder ``root/rel`` once the save is decided."""
        self.removals.append(self.target(rel))

    def abort(self) -> None:
        """Delete every staged temporary file (the case is unchanged)."""
        for tmp, _ in self.renames:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self.renames.clear()

    def commit(self, entries: list[dict[str, Any]]) -> None:
        """Decide the save (journal), apply it, append ``entries`` to the audit log."""
        check_audit_target(self.root / AUDIT_FILE)
        save_id = secrets.token_hex(8)
        rel = lambda p: str(Path(p).relative_to(self.root))  # noqa: E731
        journal = {
            "format": "surgiplan-save-journal",
            "save": save_id,
            "renames": [[rel(t), rel(f)] for t, f in self.renames],
            "remove": [rel(p) for p in self.removals],
            "audit": [{**e, "save": save_id} for e in entries],
        }
        try:
            fileio.atomic_write_text(self.root / JOURNAL, json.dumps(journal) + "\n")
        except BaseException:
            self.abort()
            raise
        _apply(self.root, journal)
        self.renames.clear()


def check_audit_target(path: Path) -> None:
    """CaseFormatError when ``history.jsonl`` is a link, a folder or anything but a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise CaseFormatError("the audit log is a symbolic link, which surgiplan does not follow",
                              path=path, hint="Replace the link with the real file; nothing was saved.")
    if not stat.S_ISREG(st.st_mode):
        raise CaseFormatError("the audit log is not a regular file (a folder or device is in its place)",
                              path=path, hint="Move it away and save again; nothing was saved.")


def _apply(root: Path, journal: dict[str, Any]) -> None:
    for tmp_rel, final_rel in journal["renames"]:
        tmp, final = root / tmp_rel, root / final_rel
        if os.path.lexists(tmp):
            try:
                os.replace(tmp, final)
            except OSError as exc:
                raise fileio.write_error(final, exc) from None
            fileio.fsync_dir(final.parent)
    path = root / AUDIT_FILE
    done = {e.get("save") for e in audit.read_audit(path)[0][-200:]} if path.exists() else set()
    if journal["save"] not in done:
        audit.append_audit(path, journal["audit"])
    for rel in journal["remove"]:
        folder = root / rel
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
    try:
        os.unlink(root / JOURNAL)
    except FileNotFoundError:
        pass
    fileio.fsync_dir(root)


def _check_journal(root: Path, data: Any) -> dict[str, Any]:
    path = root / JOURNAL
    bad = CaseFormatError("the record of an interrupted save is damaged", path=path,
                          hint="Move it away to open the case as it was before that save.")
    if not isinstance(data, dict) or data.get("format") != "surgiplan-save-journal":
        raise bad
    renames, remove, entries = data.get("renames"), data.get("remove"), data.get("audit")
    if not (isinstance(renames, list) and isinstance(remove, list) and isinstance(entries, list)
            and isinstance(data.get("save"), str)):
        raise bad
    for pair in renames:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise bad
        tmp, final = pair
        if not fileio.is_temporary(Path(tmp).name) or Path(tmp).parent != Path(final).parent:
            raise bad
        fileio.check_inside(root, tmp, "journal entry")
        fileio.check_inside(root, final, "journal entry")
    for rel in remove:
        if not isinstance(rel, str) or not rel.startswith("plans/"):
            raise bad
        fileio.check_inside(root, rel, "journal entry")
    if not all(isinstance(e, dict) for e in entries):
        raise bad
    return data


def recover(root: str | Path) -> list[str]:
    """Finish a save that was interrupted after it was decided, and remove stale temporaries.

    Returns messages saying what was done (empty when the folder was clean).
    CaseFormatError naming the journal when it is damaged or the folder is not writable.
    """
    root = Path(root)
    notes: list[str] = []
    jpath = root / JOURNAL
    if os.path.lexists(jpath):
        fd = fileio.open_regular_nofollow(jpath)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(64 << 20)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = None
        journal = _check_journal(root, data)
        try:
            _apply(root, journal)
        except (OSError, fileio.WriteError) as exc:
            raise CaseFormatError(f"an interrupted save could not be finished ({exc})", path=root,
                                  hint="Make the case folder writable and open it again.") from None
        notes.append(f"finished a save that was interrupted (save {journal['save']})")
    removed = fileio.clean_stale_temporaries(root)
    if removed:
        notes.append(f"removed {len(removed)} temporary file(s) left by an interrupted save")
    return notes


def log_recovery(root: Path, notes: list[str], user: str) -> None:
    """Append what :func:`recover` did to the audit log (best effort)."""
    if not notes:
        return
    try:
        check_audit_target(root / AUDIT_FILE)
        audit.append_audit(root / AUDIT_FILE, [audit.entry(n, user) for n in notes])
    except (OSError, CaseFormatError):
        pass
