"""The case folder: :class:`Case` (the aggregate of the whole pipeline), its versioned schema,
the one-transaction save, the audit log, autosave snapshots and segmentation seeds.

::

    case.py      Case: open / new / save, plans, implants, landmarks, models, scans, undo
    schema.py    case.json / plan.json models (pydantic), versioned; hostile files refused
    save.py      the save transaction (stage, journal, rename, audit) and recovery at open
    audit.py     history.jsonl, the append-only audit log
    autosave.py  snapshots in the user's data folder and recovery
    seeds.py     segmentation seed points per scan
"""


def __getattr__(name: str):
    # lazy: plan.py imports case.schema, and case.py imports plan.py
    if name == "Case":
        from surgiplan.core.case.case import Case

        return Case
    raise AttributeError(f"module 'surgiplan.core.case' has no attribute {name!r}")


__all__ = ["Case"]
