"""The few measurements a surgeon keeps in sight while planning, each against its target.

:func:`key_measurements` picks, from a plan's measurement rows
(:func:`surgiplan.core.planning.measurements.measure_plan`), the ones that matter for the
case's anatomy (hip: cup inclination and anteversion, leg length, offset, centre of
rotation; knee: HKA, component varus/valgus, tibial slope; spine: the worst screw breach)
and says whether each lies in its target range (the comparison's ``DEFAULT_TARGETS``,
overridden by the case's ``settings["targets"]``). The window's always-visible strip shows
them; the report can use the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from surgiplan.core.units import format_value

#: anatomy -> ((label, keys tried in order: the first present is shown), ...)
KEYS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "hip": (("Inclination", ("cup_inclination",)),
            ("Anteversion", ("cup_anteversion",)),
            ("Leg length", ("leg_length_difference", "leg_length_change")),
            ("Offset", ("offset_difference", "femoral_offset_change")),
            ("COR shift", ("cor_shift",))),
    "knee": (("HKA", ("hka_planned", "hka_native")),
             ("Femoral varus", ("femoral_component_varus",)),
             ("Tibial varus", ("tibial_component_varus",)),
             ("Tibial slope", ("tibial_slope",))),
    "spine": (("Worst breach", ("screw_breach",)),),
}


@dataclass(frozen=True)
class KeyValue:
    """One key measurement: ``status`` is "in" / "out" of its target, "none" (no target) or "missing"."""

    key: str
    label: str
    value: float | None
    unit: str
    text: str
    status: str
    target: tuple[float, float] | None
    definition: str = ""

    def to_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "value": self.value, "unit": self.unit, "text": self.text,
                "status": self.status, "target": None if self.target is None else list(self.target)}


def plan_targets(case=None) -> dict[str, tuple[float, float]]:
    """Target ranges: the comparison's defaults overridden by the case's ``settings["targets"]``."""
    from surgiplan.core.planning.comparison import DEFAULT_TARGETS

    tg = dict(DEFAULT_TARGETS)
    if case is not None:
        tg.update({k: (float(v[0]), float(v[1])) for k, v in case.model.settings.get("targets", {}).items()})
    return tg


def key_measurements(results, anatomy: str, targets: dict | None = None) -> list[KeyValue]:
    """The anatomy's key rows from measurement ``results`` (objects with key/value/unit/definition).

    A quantity whose first key is missing falls back to the next (e.g. leg length change
    without the contralateral landmarks); only the first key carries the target colour.
    For the spine the worst ``screw_breach_*`` row is shown. Rows absent from ``results``
    come back with status "missing" and value None.
    """
    tg = targets if targets is not None else plan_targets()
    by_key = {r.key: r for r in results if r.value is not None and not isinstance(r.value, str)}
    out: list[KeyValue] = []
    for label, keys in KEYS.get(anatomy, ()):
        found = None
        for n, k in enumerate(keys):
            if anatomy == "spine":
                rows = [r for kk, r in by_key.items() if kk.startswith(k + "_")]
                r = max(rows, key=lambda r: float(r.value), default=None)
            else:
                r = by_key.get(k)
            if r is not None:
                found = (n, k, r)
                break
        if found is None:
            out.append(KeyValue(keys[0], label, None, "", "–", "missing", tg.get(keys[0])))
            continue
        n, k, r = found
        target = tg.get(k) if n == 0 else None
        v = float(r.value)
        status = "none" if target is None else ("in" if target[0] <= v <= target[1] else "out")
        out.append(KeyValue(r.key, label, v, r.unit, format_value(v, r.unit), status, target,
                            getattr(r, "definition", "")))
    return out
