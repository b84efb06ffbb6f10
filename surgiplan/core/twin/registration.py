"""Rigid registration of a later scan to the planning scan (SimpleITK, Euler3D).

The planning scan is *fixed*, the later scan *moving*. The metric is Mattes mutual
information when the modalities differ (MR to CT) and mean squares for CT to CT;
the optimiser is regular-step gradient descent over a three-level pyramid
(shrink 4, 2, 1; smoothing 2, 1, 0 mm; for mutual information only the levels that keep
enough voxels for its histogram), with parameter scales from physical shifts.
The start is chosen among the identity (both scans in the scanner's LPS), the
images' geometric centres and their moments, by the metric's value at the
coarsest level. A mask of one bone in the planning scan (``fixed_mask``) makes
that bone alone drive the fit; a ``moving_mask`` leaves out metal in a post-op scan.

:class:`Registration` holds the result: ``scan_to_planning`` (4x4, later scan LPS mm
-> planning LPS mm), the ITK transform (planning points -> scan points: the one
that resamples the scan onto the planning grid, what ``to_planning.tfm`` stores),
final metric, iterations, stop condition. A fit that does not converge (iteration
limit, no overlap, implausible motion) raises :class:`GeometryError` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.imaging.volume_io import to_sitk
from surgiplan.core.jobs import Progress, check_cancelled, report

#: Largest rotation (deg) and translation (mm) accepted between two scans of one patient.
MAX_ROTATION_DEG = 30.0
MAX_TRANSLATION_MM = 150.0
#: Smallest fraction of the fixed (masked) voxels that must land inside the later scan.
MIN_OVERLAP = 0.2
#: Fewest fixed voxels a pyramid level of a mutual-information fit must hold.
MI_LEVEL_SAMPLES = 4000
#: Voxels the metric samples at full resolution by default (all of them for one vertebra).
SAMPLES = 50_000


@dataclass
class Registration:
    """A rigid registration result; angles in degrees, lengths in mm, LPS.

    ``initial_metric`` is the chosen start's metric on the coarsest (4x shrunk, 2 mm smoothed)
    images, ``final_metric`` the optimiser's last value at full resolution.
    """

    scan_to_planning: np.ndarray
    metric: str
    final_metric: float
    initial_metric: float
    iterations: list[int]
    stop_condition: str
    initialisation: str
    mask: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def planning_to_scan(self) -> np.ndarray:
        """4x4 planning LPS mm -> later scan LPS mm (the ITK transform's point mapping)."""
        return np.linalg.inv(self.scan_to_planning)

    @property
    def rotation_deg(self) -> float:
        """Angle of the rotation part (deg)."""
        r = self.scan_to_planning[:3, :3]
        return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))))

    def to_dict(self) -> dict[str, Any]:
        return {"scan_to_planning": self.scan_to_planning.round(6).tolist(), "metric": self.metric,
                "final_metric": self.final_metric, "initial_metric": self.initial_metric,
                "iterations": self.iterations, "stop_condition": self.stop_condition,
                "initialisation": self.initialisation, "mask": self.mask,
                "rotation_deg": round(self.rotation_deg, 4),
                "translation_mm": self.scan_to_planning[:3, 3].round(4).tolist(),
                "seconds": round(self.seconds, 2), **self.details}


def euler_to_matrix(tx) -> np.ndarray:
    """4x4 matrix of the point mapping of a SimpleITK rigid transform (fixed -> moving points)."""
    m = np.eye(4)
    r = np.asarray(tx.GetMatrix(), float).reshape(3, 3)
    c = np.asarray(tx.GetCenter(), float)
    t = np.asarray(tx.GetTranslation(), float)
    m[:3, :3] = r
    m[:3, 3] = r @ (-c) + c + t
    return m


def matrix_to_euler(m: np.ndarray, centre=(0.0, 0.0, 0.0)):
    """A SimpleITK Euler3DTransform mapping points like the 4x4 ``m`` (rotation about ``centre``)."""
    import SimpleITK as sitk

    tx = sitk.Euler3DTransform()
    tx.SetCenter([float(x) for x in centre])
    tx.SetMatrix([float(x) for x in np.asarray(m, float)[:3, :3].ravel()], 1e-5)
    c = np.asarray(centre, float)
    tx.SetTranslation([float(x) for x in (m[:3, 3] - c + m[:3, :3] @ c)])
    return tx


def _mask_image(mask: np.ndarray, like):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(mask.astype(np.uint8)))
    img.CopyInformation(like)
    return img


def _crop_to_mask(volume: Volume, mask: np.ndarray, margin_mm: float) -> tuple[Volume, np.ndarray]:
    """The volume and mask cut to the mask's bounding box grown by ``margin_mm`` (same geometry)."""
    idx = np.argwhere(mask)
    pad = np.ceil(margin_mm / np.asarray(volume.spacing)[::-1]).astype(int)
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, mask.shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    origin = volume.index_to_world([float(lo[2]), float(lo[1]), float(lo[0])])
    sub = Volume(volume.array[sl], volume.spacing, tuple(origin), volume.direction, dict(volume.metadata))
    return sub, mask[sl]


def _overlap(fixed: Volume, mask: np.ndarray | None, moving: Volume, p2s: np.ndarray) -> float:
    """Fraction of the fixed scan's (masked) voxels whose image under ``p2s`` lies inside ``moving``."""
    if mask is not None:
        idx = np.argwhere(mask)
    else:
        idx = np.argwhere(np.ones(fixed.array.shape, bool)[::4, ::4, ::4]) * 4
    if len(idx) > 20000:
        idx = idx[np.random.default_rng(0).choice(len(idx), 20000, replace=False)]
    world = fixed.index_to_world(idx[:, ::-1].astype(float))
    ijk = moving.world_to_index(world @ p2s[:3, :3].T + p2s[:3, 3])
    inside = np.all((ijk >= -0.5) & (ijk <= np.array(moving.shape_ijk) - 0.5), axis=1)
    return float(np.mean(inside))


def _modality(v: Volume) -> str:
    return str((v.metadata or {}).get("modality", "CT") or "CT").upper()


def choose_metric(fixed: Volume, moving: Volume, metric: str = "auto") -> str:
    """``mean_squares`` for CT to CT, ``mutual_information`` otherwise (or as asked)."""
    if metric not in ("auto", "mean_squares", "correlation", "mutual_information"):
        raise InputError(f"unknown registration metric {metric!r}",
                         hint="Use auto, mean_squares, correlation or mutual_information.")
    if metric != "auto":
        return metric
    return "mean_squares" if _modality(fixed) == _modality(moving) == "CT" else "mutual_information"


def _method(metric: str, fixed_mask, moving_mask, sampling: float, seed: int):
    import SimpleITK as sitk

    reg = sitk.ImageRegistrationMethod()
    if metric == "mean_squares":
        reg.SetMetricAsMeanSquares()
    elif metric == "correlation":
        reg.SetMetricAsCorrelation()
    else:
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=48)
    if sampling < 1.0:
        reg.SetMetricSamplingStrategy(reg.RANDOM)
        reg.SetMetricSamplingPercentage(sampling, seed)
    if fixed_mask is not None:
        reg.SetMetricFixedMask(fixed_mask)
    if moving_mask is not None:
        reg.SetMetricMovingMask(moving_mask)
    reg.SetInterpolator(sitk.sitkLinear)
    return reg


def register_rigid(
    fixed: Volume,
    moving: Volume,
    *,
    metric: str = "auto",
    fixed_mask: np.ndarray | None = None,
    moving_mask: np.ndarray | None = None,
    mask_name: str = "",
    initialisation: str = "auto",
    iterations: int = 200,
    sampling: float | None = None,
    clip_hu: tuple[float, float] | None = (-200.0, 2000.0),
    progress: Progress | None = None,
) -> Registration:
    """Rigidly register ``moving`` (a later scan) to ``fixed`` (the planning scan).

    Parameters
    ----------
    fixed, moving : Volume
        Planning scan and later scan (LPS mm).
    metric : str
        ``auto`` (mean squares CT-CT, mutual information otherwise), ``mean_squares``,
        ``correlation`` or ``mutual_information``.
    fixed_mask : numpy.ndarray, optional
        Boolean [k, j, i] on the fixed grid: only these voxels drive the fit (one bone).
    moving_mask : numpy.ndarray, optional
        Boolean [k, j, i] on the moving grid: voxels that may be sampled (e.g. not metal).
    mask_name : str
        What the fixed mask is (reported).
    initialisation : str
        ``auto`` (best of identity / geometry / moments by the metric), ``identity``,
        ``geometry`` or ``moments``.
    iterations : int
        Iteration limit per pyramid level; reaching it at the finest level is "not converged".
    sampling : float, optional
        Fraction of the (masked) fixed voxels sampled by the metric (1 = all); by default
        enough for about :data:`SAMPLES` voxels.
    clip_hu : tuple, optional
        For CT to CT, intensities are clipped to this range (HU) first so that metal and
        its streaks do not dominate mean squares.
    progress : Progress, optional
        Progress and cancellation.

    Returns
    -------
    Registration
        The transform and report; GeometryError when the fit does not converge.
    """
    import time

    import SimpleITK as sitk

    t0 = time.perf_counter()
    metric = choose_metric(fixed, moving, metric)
    if fixed_mask is not None:
        if fixed_mask.shape != fixed.array.shape:
            raise InputError(f"the registration mask {mask_name} does not match the planning scan's grid "
                             f"({fixed_mask.shape} voxels, scan {fixed.array.shape})")
        if not np.any(fixed_mask):
            raise InputError(f"the registration mask {mask_name} is empty",
                             hint="Segment the bone in the planning scan first, or register without --bone.")
        fixed, fixed_mask = _crop_to_mask(fixed, fixed_mask, margin_mm=10.0)
    f_img = sitk.Cast(to_sitk(fixed), sitk.sitkFloat32)
    m_img = sitk.Cast(to_sitk(moving), sitk.sitkFloat32)
    if clip_hu is not None and metric != "mutual_information":
        f_img = sitk.Clamp(f_img, sitk.sitkFloat32, *clip_hu)
        m_img = sitk.Clamp(m_img, sitk.sitkFloat32, *clip_hu)
    if sampling is None:
        n = int(np.count_nonzero(fixed_mask)) if fixed_mask is not None else fixed.array.size
        sampling = float(min(1.0, SAMPLES / max(1, n)))
    f_mask = None if fixed_mask is None else _mask_image(fixed_mask, f_img)
    m_mask = None if moving_mask is None else _mask_image(moving_mask, m_img)

    report(progress, 0.02, "choosing the start")
    candidates = {"identity": sitk.Euler3DTransform()}
    if initialisation in ("auto", "geometry"):
        candidates["geometry"] = sitk.CenteredTransformInitializer(
            f_img, m_img, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY)
    if initialisation in ("auto", "moments"):
        candidates["moments"] = sitk.CenteredTransformInitializer(
            f_img, m_img, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS)
    if initialisation not in ("auto", "identity", "geometry", "moments"):
        raise InputError(f"unknown initialisation {initialisation!r}", hint="Use auto, identity, geometry or moments.")
    if initialisation != "auto":
        candidates = {initialisation: candidates[initialisation]}
    centre = f_img.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in f_img.GetSize()])
    if fixed_mask is not None:
        kji = np.argwhere(fixed_mask).mean(axis=0)
        centre = f_img.TransformContinuousIndexToPhysicalPoint([float(kji[2]), float(kji[1]), float(kji[0])])
    shrink_f = sitk.Shrink(sitk.SmoothingRecursiveGaussian(f_img, 2.0), [4, 4, 4])
    shrink_m = sitk.Shrink(sitk.SmoothingRecursiveGaussian(m_img, 2.0), [4, 4, 4])
    fm_small = None if f_mask is None else sitk.Shrink(f_mask, [4, 4, 4])
    scores = {}
    for name, tx in candidates.items():
        e = matrix_to_euler(euler_to_matrix(tx), centre)
        probe = _method(metric, fm_small, None, 1.0, 1)
        probe.SetInitialTransform(e, inPlace=False)
        try:
            scores[name] = float(probe.MetricEvaluate(shrink_f, shrink_m))
        except RuntimeError:
            scores[name] = np.inf
    best = min(scores, key=scores.get)
    if not np.isfinite(scores[best]):
        raise GeometryError("the scans do not overlap from any start (identity, centres, moments)",
                            hint="Check that the later scan shows the same anatomy as the planning scan.")
    init = matrix_to_euler(euler_to_matrix(candidates[best]), centre)
    check_cancelled(progress)

    reg = _method(metric, f_mask, m_mask, sampling, 12345)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3, numberOfIterations=iterations,
                                                 relaxationFactor=0.6, gradientMagnitudeTolerance=1e-8)
    reg.SetOptimizerScalesFromPhysicalShift()
    shrinks = [4, 2, 1]
    if metric == "mutual_information":  # a joint histogram needs samples: skip levels with too few
        n = int(np.count_nonzero(fixed_mask)) if fixed_mask is not None else fixed.array.size
        shrinks = [f for f in shrinks if f == 1 or n / f**3 >= MI_LEVEL_SAMPLES]
    reg.SetShrinkFactorsPerLevel(shrinks)
    reg.SetSmoothingSigmasPerLevel([{4: 2.0, 2: 1.0, 1: 0.0}[f] for f in shrinks])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(init, inPlace=False)
    per_level: list[int] = []
    state = {"level": -1}

    def on_iteration():
        if progress is not None and progress.cancelled:
            reg.StopRegistration()

    def on_level():
        state["level"] += 1
        if state["level"] > 0:
            per_level.append(int(reg.GetOptimizerIteration()))
        report(progress, 0.1 + 0.85 * state["level"] / len(shrinks),
               f"registration level {state['level'] + 1} of {len(shrinks)}")

    reg.AddCommand(sitk.sitkIterationEvent, on_iteration)
    reg.AddCommand(sitk.sitkMultiResolutionIterationEvent, on_level)
    try:
        out = reg.Execute(f_img, m_img)
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[-1][:200]
        raise GeometryError(f"the registration failed ({msg})",
                            hint="The scans may not overlap; try another start or no bone mask.") from None
    check_cancelled(progress)
    per_level.append(int(reg.GetOptimizerIteration()))
    stop = reg.GetOptimizerStopConditionDescription()
    final = float(reg.GetMetricValue())
    tx = sitk.CompositeTransform(out).GetNthTransform(0) if out.GetName() == "CompositeTransform" else out
    p2s = euler_to_matrix(sitk.Euler3DTransform(tx))
    s2p = np.linalg.inv(p2s)
    res = Registration(s2p, metric, final, scores[best], per_level, stop, best, mask_name,
                       time.perf_counter() - t0, {"start_metrics": scores})
    overlap = _overlap(fixed, fixed_mask, moving, p2s)
    res.details["overlap_fraction"] = round(overlap, 4)
    if overlap < MIN_OVERLAP:
        raise GeometryError(f"the registered scans overlap on only {100 * overlap:.0f} % of the "
                            f"{'mask ' + mask_name if mask_name else 'planning scan'} (at least "
                            f"{100 * MIN_OVERLAP:.0f} % needed): the registration did not converge on shared anatomy",
                            hint="Check that the later scan shows the same anatomy; try another start.")
    if "Maximum number of iterations" in stop or per_level[-1] >= iterations:
        raise GeometryError(f"the registration did not converge in {iterations} iterations at full resolution "
                            f"(metric {final:.4g}; {stop.strip()})",
                            hint="Restrict it to one bone (--bone) or check that both scans show it.")
    if res.rotation_deg > MAX_ROTATION_DEG or np.linalg.norm(s2p[:3, 3]) > MAX_TRANSLATION_MM:
        raise GeometryError(f"the registration ended at an implausible pose (rotation {res.rotation_deg:.1f} deg, "
                            f"shift {np.linalg.norm(s2p[:3, 3]):.0f} mm; at most {MAX_ROTATION_DEG:g} deg and "
                            f"{MAX_TRANSLATION_MM:g} mm expected): it did not converge on the anatomy",
                            hint="Restrict it to one bone (--bone) or check that both scans show it.")
    report(progress, 1.0, f"registered ({metric}, {sum(per_level)} iterations)")
    return res


def resample_to(fixed: Volume, moving: Volume, scan_to_planning: np.ndarray, default: float = -1024.0) -> Volume:
    """``moving`` resampled onto ``fixed``'s grid through the registration (linear; float32)."""
    import SimpleITK as sitk

    from surgiplan.core.imaging.volume_io import from_sitk

    tx = matrix_to_euler(np.linalg.inv(scan_to_planning))
    out = sitk.Resample(sitk.Cast(to_sitk(moving), sitk.sitkFloat32), to_sitk(fixed), tx, sitk.sitkLinear,
                        float(default), sitk.sitkFloat32)
    return from_sitk(out, dict(moving.metadata))
