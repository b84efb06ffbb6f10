"""One entry point for the demo: ``build_demo_plans(case, anatomy)`` -> Comparison.

* ``"hip"``: :func:`surgiplan.demo.hip.build_demo_plans` (models
  ``pelvis``, ``femur_left``, ``femur_right``; landmarks fitted automatically);
* ``"knee"``: :func:`surgiplan.demo.knee.build_demo_plans` (models
  ``femur``, ``tibia``; hip/knee/ankle centres must be in the case);
* ``"spine"``: :func:`surgiplan.demo.spine.build_demo_plans` (vertebra
  models; pedicle entry points and axes must be in the case);
* ``"vascular"``: :func:`surgiplan.demo.vascular.build_demo_plans` (planning CT
  with a vessel segmentation; the iliac stenosis is measured on the scan).

For the sample scans, :func:`prepare_sample_case` builds such a case from a
sample's label map (models) and, for knee and spine, imports the landmarks that
a knee CT cannot show / that the surgeon would place (source "imported").
"""

from __future__ import annotations

from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress
from surgiplan.core.planning.anatomy import ANATOMIES
from surgiplan.core.planning.comparison import Comparison

MODELS = {a: ANATOMIES[a].models for a in ("hip", "knee", "spine")}  # the core anatomy registry


def build_demo_plans(case, anatomy: str = "hip", progress: Progress | None = None) -> Comparison:
    """Two scripted plans (A, B) for ``anatomy`` in ``case`` and their comparison (unsaved)."""
    if anatomy == "hip":
        from surgiplan.demo.hip import build_demo_plans as f
    elif anatomy == "knee":
        from surgiplan.demo.knee import build_demo_plans as f
    elif anatomy == "spine":
        from surgiplan.demo.spine import build_demo_plans as f
    elif anatomy == "vascular":
        from surgiplan.demo.vascular import build_demo_plans as f
    else:
        raise InputError(f"no demo plans for {anatomy!r} (hip, knee, spine or vascular)")
    return f(case, progress=progress)


def prepare_sample_case(case, anatomy: str, sample_root: str | Path | None = None,
                        progress: Progress | None = None) -> None:
    """Add the sample's bone models (from its ground-truth label map) and, for knee/spine, landmarks."""
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.surfaces.models import build_models

    p = sample_path(anatomy, size="small") if sample_root is None else None
    labels = p.labels if p else Path(sample_root) / "ground_truth" / "labels.nrrd"
    labels_json = p.labels_json if p else Path(sample_root) / "ground_truth" / "labels.json"
    gt_json = p.ground_truth if p else Path(sample_root) / "ground_truth" / "ground_truth.json"
    seg = read_segmentation(labels, labels_json=labels_json)
    names = [n for n in MODELS[anatomy] if n in [s.name for s in seg.segments]]
    for m in build_models(seg, names, progress=progress):
        case.add_model(m.name, m.mesh)
    if anatomy == "knee":  # spine: the pedicle landmarks are fitted by demo_spine
        import json

        from surgiplan.demo.knee import import_landmarks

        gt = json.loads(Path(gt_json).read_text(encoding="utf-8"))
        keys = [k for k in list(gt["landmarks"]) + list(gt["axes"])
                if k in ("hip_centre", "ankle_centre")]  # outside the knee scan; the rest is fitted
        import_landmarks(case, gt_json, keys)
