"""The living twin: later scans on the case timeline, registered to the planning scan; implants
found in a post-operative CT; achieved vs planned."""

from surgiplan.core.twin.achieved import AchievedReport, ImplantResult, achieved_rows, achieved_vs_planned
from surgiplan.core.twin.registration import Registration, register_rigid, resample_to
from surgiplan.core.twin.timeline import (
    add_later_scan,
    register_scan,
    scan_to_planning,
    scan_volume,
    timeline,
)

__all__ = ["AchievedReport", "ImplantResult", "Registration", "achieved_rows", "achieved_vs_planned",
           "add_later_scan", "register_rigid", "register_scan", "resample_to", "scan_to_planning", "scan_volume",
           "timeline"]
