"""Generate a digital patient: render the scene, write DICOM, volume, labels and ground truth.

Layout of ``out_dir/<name>-<size>/``::

    dicom/*.dcm                      the scan as a DICOM series
    volume.nrrd                      the same scan as a Volume (int16 HU for CT), LPS
    ground_truth/labels.nrrd         uint8 label map on the scan grid
    ground_truth/labels.json         label value -> {"name", "color"}
    ground_truth/ground_truth.json   landmarks, axes, quantities (see ground_truth.py)

Everything is built in a hidden temporary folder beside the target and renamed
into place at the end, so a cancelled or failed run leaves nothing half-written.
"""

from __future__ import annotations

import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.imaging.volume_io import write_volume
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.samples.dicom_writer import write_series
from surgiplan.core.samples.ground_truth import read_ground_truth, write_json
from surgiplan.core.samples.phantom import render
from surgiplan.core.samples.scene import SIZES, Scene

SAMPLE_NAMES = ("hip", "knee", "spine", "vascular", "knee_mri")
GENERATOR_VERSION = "1"


def _source_digest() -> str:
    """Short hash of the generators' source: any change to them invalidates cached samples."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


GENERATOR_VERSION = f"{GENERATOR_VERSION}+{_source_digest()}"
SEEDS = {"hip": 1001, "knee": 1002, "spine": 1003, "vascular": 1004, "knee_mri": 1005}
DESCRIPTIONS = {
    "hip": "CT of the pelvis and both proximal femurs",
    "knee": "CT of the right knee (distal femur, proximal tibia, fibula head, patella)",
    "spine": "CT of the lumbar spine L1-L5 with discs and lordosis",
    "vascular": "contrast CT angiography of the abdominal aorta and iliac arteries with an iliac stenosis",
    "knee_mri": "sagittal T1-weighted MRI of the right knee",
}


@dataclass(frozen=True)
class SamplePaths:
    """Where one generated sample lives."""

    root: Path

    @property
    def dicom_dir(self) -> Path:
        return self.root / "dicom"

    @property
    def volume(self) -> Path:
        return self.root / "volume.nrrd"

    @property
    def labels(self) -> Path:
        return self.root / "ground_truth" / "labels.nrrd"

    @property
    def labels_json(self) -> Path:
        return self.root / "ground_truth" / "labels.json"

    @property
    def ground_truth(self) -> Path:
        return self.root / "ground_truth" / "ground_truth.json"

    def load_ground_truth(self) -> dict:
        """The parsed ground_truth.json (InputError naming the file if missing or damaged)."""
        return read_ground_truth(self.ground_truth)

    def is_complete(self) -> bool:
        return all(p.exists() for p in (self.volume, self.labels, self.labels_json, self.ground_truth)) \
            and self.dicom_dir.is_dir() and any(self.dicom_dir.glob("*.dcm"))


def check_name_size(name: str, size: str) -> None:
    if name not in SAMPLE_NAMES:
        raise InputError(f"unknown sample '{name}'", hint=f"Choose one of: {', '.join(SAMPLE_NAMES)}.")
    if size not in SIZES:
        raise InputError(f"unknown sample size '{size}'", hint=f"Choose one of: {', '.join(SIZES)}.")


def build_scene(name: str, size: str = "small", seed: int | None = None) -> Scene:
    """The analytic scene of sample ``name`` (no rendering), e.g. to evaluate exact surfaces."""
    check_name_size(name, size)
    module = importlib.import_module(f"surgiplan.core.samples.{name}")
    return module.build(size, SEEDS[name] if seed is None else int(seed))


def _to_stored(image: np.ndarray, scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(real-world int16 array, stored uint16 array) after clipping to the scanner's range."""
    lo, hi = scene.value_range
    slope, intercept = scene.rescale
    real = np.clip(np.rint(image), lo, hi).astype(np.int16)
    stored = np.rint((real.astype(np.float32) - intercept) / slope).astype(np.uint16)
    return real, stored


def generate_sample(
    name: str,
    out_dir: str | Path,
    size: str = "small",
    progress: Progress | None = None,
    *,
    seed: int | None = None,
    overwrite: bool = True,
) -> SamplePaths:
    """Generate sample ``name`` at ``size`` into ``out_dir/<name>-<size>/``.

    An earlier sample there is replaced (only once the new one is complete), unless
    ``overwrite`` is False; a folder of that name that is not a generated sample is never
    replaced. Deterministic: the same name, size and seed give byte-identical files.
    """
    from surgiplan.core.fileio import check_name_length, ensure_folder

    check_name_size(name, size)
    out_dir = Path(out_dir)
    check_name_length(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("the output path exists and is not a folder", path=out_dir,
                         hint="Choose a folder with --out.")
    seed = SEEDS[name] if seed is None else int(seed)
    final = out_dir / f"{name}-{size}"
    _check_replaceable(final, overwrite)
    tmp = out_dir / f".{name}-{size}.tmp-{os.getpid()}"
    ensure_folder(out_dir)  # WriteError naming the folder (read-only, a file in the way, ...)
    _remove_stale(out_dir, name, size)
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        report(progress, 0.0, f"building the {name} anatomy")
        scene = build_scene(name, size, seed)
        rng = np.random.default_rng(seed)
        image, labels = render(
            scene.grid, scene.layers, scene.tissues, rng, background=scene.background,
            psf_fwhm_mm=scene.psf_fwhm_mm, noise_sd=scene.noise_sd, noise_kind=scene.noise_kind,
            progress=sub_progress(progress, 0.02, 0.75),
        )
        if scene.post is not None:
            scene.post(image, scene.grid)
        real, stored = _to_stored(image, scene)
        del image
        paths = SamplePaths(tmp)
        write_series(stored, scene.grid, paths.dicom_dir, scene.header, rescale_slope=scene.rescale[0],
                     rescale_intercept=scene.rescale[1], progress=sub_progress(progress, 0.75, 0.92))
        del stored
        report(progress, 0.93, "writing volume and label map")
        g = scene.grid
        h = scene.header
        windows = h.windows[0] if h.windows else (None, None, "")
        meta = {"modality": h.modality, "patient_name": h.patient_name, "patient_id": h.patient_id,
                "series_description": h.series_description, "window_center": windows[0],
                "window_width": windows[1]}
        vol = Volume(real, g.spacing, g.origin, g.direction, metadata=meta)
        write_volume(vol, paths.volume, compress=False)  # fast to read and write
        write_volume(Volume(labels, g.spacing, g.origin, g.direction, metadata={}), paths.labels)
        write_json(scene.truth.labels_json(), paths.labels_json)
        truth = scene.truth.to_dict(name=name, size=size, seed=seed, version=GENERATOR_VERSION, grid=g)
        truth["description"] = DESCRIPTIONS[name]
        truth["modality"] = h.modality
        write_json(truth, paths.ground_truth)
        for rel, writer in scene.extra_files.items():
            writer(tmp / rel)
        report(progress, 0.99, "moving into place")
        old = None
        if final.exists():
            old = out_dir / f".{name}-{size}.old-{os.getpid()}"
            os.replace(final, old)
        try:
            os.replace(tmp, final)
        except OSError:
            if final.exists():  # a concurrent run finished first: keep its (identical) result
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    report(progress, 1.0, f"{name} ({size}) written to {final}")
    return SamplePaths(final)


def _check_replaceable(final: Path, overwrite: bool) -> None:
    """InputError unless ``final`` is absent, empty, or a generated sample that may be replaced."""
    if not os.path.lexists(final):
        return
    if final.is_symlink() or not final.is_dir():
        raise InputError("a file or link is in the way of the sample folder", path=final,
                         hint="Remove it or choose another --out folder.")
    if not any(final.iterdir()):
        return
    if not (final / "ground_truth" / "ground_truth.json").is_file():
        raise InputError("the folder exists and is not a generated sample; refusing to replace it",
                         path=final, hint="Choose another --out folder.")
    if not overwrite:
        raise InputError("the sample exists", path=final,
                         hint="Pass --overwrite to generate it again, or choose another --out folder.")


def _remove_stale(out_dir: Path, name: str, size: str) -> None:
    """Remove the hidden build folders of a killed run (``.<name>-<size>.tmp-PID`` / ``.old-PID``)."""
    import re

    pattern = re.compile(rf"^\.{re.escape(name)}-{re.escape(size)}\.(?:tmp|old)-(\d+)$")
    for p in out_dir.iterdir():
        m = pattern.match(p.name)
        if not m or not p.is_dir() or p.is_symlink():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # still running (a parallel generator)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except (PermissionError, OverflowError):
            continue


def is_current(paths: SamplePaths, name: str) -> bool:
    """True when ``paths`` holds a complete sample made by this generator version."""
    return _cached(paths, name)


def samples_root() -> Path:
    """Where cached samples live: ``$SURGIPLAN_SAMPLES`` if set, else ``sample_scans/`` of a
    source checkout, else the user data folder (platformdirs)."""
    env = os.environ.get("SURGIPLAN_SAMPLES")
    if env:
        return Path(env).resolve()
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").is_file() and (repo / "sample_scans").is_dir():
        return repo / "sample_scans"
    from platformdirs import user_data_dir

    return Path(user_data_dir("surgiplan", appauthor=False)) / "sample_scans"


def _cached(paths: SamplePaths, name: str) -> bool:
    if not paths.is_complete():
        return False
    try:
        gt = paths.load_ground_truth()
    except InputError:
        return False
    return gt.get("generator_version") == GENERATOR_VERSION and gt.get("seed") == SEEDS[name]


def sample_path(name: str, size: str = "small", progress: Progress | None = None) -> SamplePaths:
    """A cached copy of sample ``name`` at ``size``, generated when missing or out of date.

    Concurrent callers (parallel test workers) are serialised by a lock file, so a sample is
    generated once and never replaced while another process waits for it.
    """
    check_name_size(name, size)
    root = samples_root()
    paths = SamplePaths(root / f"{name}-{size}")
    if _cached(paths, name):
        return paths
    root.mkdir(parents=True, exist_ok=True)
    import fcntl

    (root / ".locks").mkdir(exist_ok=True)  # a folder: git-ignored like the samples
    with open(root / ".locks" / f"{name}-{size}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _cached(paths, name):  # another process made it while we waited
                return paths
            return generate_sample(name, root, size, progress)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
