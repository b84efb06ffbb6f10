"""What is open: one Qt-free session model that scripts drive and the window observes.

A :class:`Session` holds the open case, the scans loaded in memory, the live
segmentation, the current plan, the selection and whether anything is unsaved, and it
announces every change as a typed :class:`SessionEvent` (napari's ``ViewerModel`` and
3D Slicer's MRML scene are the models). The desktop window holds one session and maps
its events to Qt signals; panels read and change the session, not the window.

Editing needs no case folder on disk: :meth:`Session.ensure_case` makes an in-memory
case (its folder is only reserved) and nothing is written until :meth:`Session.save`.

Examples
--------
>>> s = Session()
>>> seen = []
>>> _ = s.subscribe(lambda e: seen.append(e.kind))
>>> s.current_plan = "A"
>>> seen
['current_plan']
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surgiplan.core.jobs import Progress, report, sub_progress

#: Kinds of :class:`SessionEvent`.
CASE, SCAN, SEGMENTATION, MODELS, PLANS, CURRENT_PLAN, SELECTION, DIRTY = (
    "case", "scan", "segmentation", "models", "plans", "current_plan", "selection", "dirty")
EVENT_KINDS = (CASE, SCAN, SEGMENTATION, MODELS, PLANS, CURRENT_PLAN, SELECTION, DIRTY)


@dataclass(frozen=True)
class SessionEvent:
    """A change of the session: ``kind`` (one of :data:`EVENT_KINDS`) and details."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


def case_folder_name(metadata: dict, when: float | None = None) -> str:
    """A new case folder name from a scan's metadata: ``<sample|patient id|name>-YYYYmmdd-HHMMSS``."""
    base = str(metadata.get("sample") or metadata.get("patient_id") or metadata.get("patient_name")
               or "case")
    base = re.sub(r"[^A-Za-z0-9_-]", "_", base)[:40] or "case"
    return f"{base}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}"


class Session:
    """The open case, scans, segmentation, current plan and selection, with typed events.

    Attributes
    ----------
    scan_name : str
        Name of the scan being viewed and segmented (``"planning"`` by default).
    scan_saved : bool
        False while the viewed scan (or its segmentation) is not in the case folder yet.
    """

    def __init__(self) -> None:
        self._case = None
        self._scans: dict[str, Any] = {}
        self.scan_name = "planning"
        self.scan_saved = True
        self._segmentation = None
        self._current_plan: str | None = None
        self._selection: dict[str, Any] = {}
        self._listeners: list[tuple[str | None, Callable[[SessionEvent], None]]] = []
        self._unsubscribe_history: Callable[[], None] | None = None
        #: What the autosave snapshots already hold (the volume written, the segmentation's digest).
        self._autosave_cache: dict[Any, Any] = {}

    # ------------------------------------------------------------------ events
    def subscribe(self, listener: Callable[[SessionEvent], None], kind: str | None = None
                  ) -> Callable[[], None]:
        """Call ``listener(event)`` on every event (or only those of ``kind``); returns an unsubscribe."""
        entry = (kind, listener)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry) if entry in self._listeners else None

    def emit(self, kind: str, **detail: Any) -> None:
        """Announce a change (panels call it after edits the session cannot see, e.g. models)."""
        event = SessionEvent(kind, detail)
        for k, fn in list(self._listeners):
            if k is None or k == kind:
                fn(event)

    # ------------------------------------------------------------------- state
    @property
    def case(self):
        """The open :class:`~surgiplan.core.planning.Case`, or None."""
        return self._case

    def set_case(self, case, plan: str | None = None) -> None:
        """Open ``case`` (None closes it); the current plan becomes ``plan`` or its first plan."""
        if self._unsubscribe_history is not None:
            self._unsubscribe_history()
            self._unsubscribe_history = None
        self._case = case
        if case is not None:
            self._unsubscribe_history = case.history.subscribe(self._history_changed)
            self._current_plan = plan or (next(iter(case.plans)) if case.plans else None)
            self._adopt_segmentation()
        else:
            self._current_plan = None
        self._selection = {}
        self.emit(CASE)
        self.emit(PLANS)
        self.emit(CURRENT_PLAN, plan=self._current_plan)
        self.emit(DIRTY, dirty=self.dirty)

    def _history_changed(self) -> None:
        self.emit(PLANS)
        self.emit(DIRTY, dirty=self.dirty)

    @property
    def history(self):
        """The undo stack (the open case's), or None without a case."""
        return None if self._case is None else self._case.history

    @property
    def volume(self):
        """The viewed scan (Volume, LPS mm), or None."""
        return self._scans.get(self.scan_name)

    @property
    def scans(self) -> dict[str, Any]:
        """Scans loaded in memory by name (a copy)."""
        return dict(self._scans)

    def set_volume(self, volume, name: str = "planning", *, saved: bool = False) -> None:
        """Load scan ``volume`` as ``name`` and view it (``saved``: it is already in the case folder)."""
        self._scans[name] = volume
        self.scan_name = name
        self.scan_saved = saved
        self.emit(SCAN, name=name)
        self.emit(DIRTY, dirty=self.dirty)

    @property
    def segmentation(self):
        """The live segmentation of the viewed scan, or None."""
        return self._segmentation

    def set_segmentation(self, seg) -> None:
        """Make ``seg`` the live segmentation (it is the case's once a case is open)."""
        self._segmentation = seg
        self._adopt_segmentation()
        self.emit(SEGMENTATION)
        self.emit(DIRTY, dirty=self.dirty)

    @property
    def current_plan(self) -> str | None:
        """Name of the plan being edited, or None."""
        return self._current_plan

    @current_plan.setter
    def current_plan(self, name: str | None) -> None:
        if name != self._current_plan:
            self._current_plan = name
            self._selection.pop("implant", None)
            self.emit(CURRENT_PLAN, plan=name)

    @property
    def selection(self) -> dict[str, Any]:
        """What is selected (e.g. ``{"implant": id, "landmark": name}``; a copy)."""
        return dict(self._selection)

    def select(self, **items: Any) -> None:
        """Select items (``select(implant="cup")``; a None value clears that kind)."""
        for k, v in items.items():
            if v is None:
                self._selection.pop(k, None)
            else:
                self._selection[k] = v
        self.emit(SELECTION, **items)

    @property
    def dirty(self) -> bool:
        """True when something is not saved: the case's edits or the viewed scan."""
        return bool((self._case is not None and self._case.dirty)
                    or (self.volume is not None and not self.scan_saved))

    # ----------------------------------------------------------------- actions
    def ensure_case(self, cases_folder: str | Path, user: str | None = None):
        """The open case; a new in-memory one (folder reserved in ``cases_folder``) when none is open.

        Nothing is written: the folder appears at the first :meth:`save`.
        """
        if self._case is None:
            from surgiplan.core.case import Case

            md = dict(getattr(self.volume, "metadata", {}) or {})
            root = Path(cases_folder) / case_folder_name(md)
            n = 1
            while root.exists():
                n += 1
                root = root.with_name(f"{case_folder_name(md)}-{n}")
            case = Case.new(root, patient_name=str(md.get("patient_name", "") or ""),
                            patient_id=str(md.get("patient_id", "") or ""), user=user, save=False)
            self.scan_saved = False
            self.set_case(case)
        return self._case

    def _adopt_segmentation(self) -> None:
        """Hand the live segmentation to the case when its scan is part of it."""
        case, seg = self._case, self._segmentation
        if case is not None and seg is not None and self.scan_name in {s.name for s in case.model.scans}:
            case.set_segmentation(seg, self.scan_name)

    def save(self, progress: Progress | None = None, notify: bool = True) -> Path:
        """Write the viewed scan (when new), its segmentation and the case; returns the case folder.

        ``notify=False`` emits no event (a worker thread; the caller emits ``DIRTY`` after).

        Raises
        ------
        InputError
            Without a scan or a case to save.
        """
        from surgiplan.core.errors import InputError

        if self._case is None:
            raise InputError("nothing to save: no case is open", hint="Open a scan or a case first.")
        case = self._case
        report(progress, 0.05, "writing the scan and segmentation")
        self._add_viewed_scan(case)
        case.save(progress=sub_progress(progress, 0.5, 1.0))
        self.scan_saved = True
        if notify:
            self.emit(DIRTY, dirty=self.dirty)
        return case.root

    def _add_viewed_scan(self, case) -> None:
        """Put the viewed scan (when new) and its segmentation into ``case`` before a save."""
        volume = self.volume
        if volume is not None and (not self.scan_saved or self._segmentation is not None):
            if not self.scan_saved or self.scan_name not in {s.name for s in case.model.scans}:
                case.add_scan(self.scan_name, volume, segmentation=self._segmentation)
            else:
                self._adopt_segmentation()

    def save_as(self, root: str | Path, progress: Progress | None = None, notify: bool = True) -> Path:
        """Write the whole case (scan, segmentation, models, plans) to the new folder ``root``
        and work there from now on (core ``Case.save_as``); the old folder is not touched.

        Raises
        ------
        InputError
            Without a case, or when ``root`` exists and is not empty or lies inside the case.
        """
        from surgiplan.core.errors import InputError

        if self._case is None:
            raise InputError("nothing to save: no case is open", hint="Open a scan or a case first.")
        root = self._case.save_as(root, progress, prepare=self._add_viewed_scan)
        self.scan_saved = True
        if notify:
            self.emit(DIRTY, dirty=self.dirty)
        return root

    def autosave(self, folder: Path | None = None) -> Path | None:
        """Snapshot what is unsaved in the user's autosave folder (core ``write_autosave``).

        A scan not yet in the case folder goes with it (its volume written once, its
        segmentation when it changed), so that a case killed before its first save comes
        back whole. Returns the snapshot, or None when nothing is unsaved.
        """
        case = self._case
        if case is None or not self.dirty:
            return None
        from surgiplan.core.case.autosave import write_autosave

        scans = {}
        if self.volume is not None and (not self.scan_saved
                                        or self.scan_name not in {s.name for s in case.model.scans}):
            scans[self.scan_name] = (self.volume, self._segmentation)
        return write_autosave(case, folder, scans=scans, cache=self._autosave_cache)
