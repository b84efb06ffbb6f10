"""Find every DICOM series under a folder tree, reading headers only.

``discover(path)`` walks the tree (and follows a DICOMDIR if there is one),
reads each file's header (no pixels), groups images by Series Instance UID and
splits a series further where orientation, matrix size or acquisition differ
(dcm2niix does the same). Files that are not DICOM, empty, truncated or
inconsistent are listed in ``Discovery.skipped`` with the reason; nothing raises
unless there is no DICOM at all.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.dicom_headers import (
    NON_IMAGE_SOP_PREFIXES,
    SECONDARY_CAPTURE_PREFIX,
    FrameHeader,
    read_frame_headers,
    read_series_dataset,
)
from surgiplan.core.jobs import Progress, report

#: Series kinds; only "volume" and "image" are picked by default for loading.
LOADABLE_KINDS = ("volume", "image")


@dataclass(frozen=True)
class SkippedFile:
    """A file discovery did not use, and why (a sentence a user understands)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class SeriesInfo:
    """One image series (or one part of a split series) and its frames.

    ``key`` identifies it: the Series Instance UID, with ``#<part>`` appended when
    the UID was split (different orientation, matrix or acquisition).
    ``kind`` is "volume" (a stack with geometry), "image" (a single slice with
    geometry), "localizer", "secondary_capture", "no_geometry" (e.g. CR/DX),
    "color" or "non_image" (SR, presentation states, ...): all are listed, the
    non-volume kinds are flagged.
    """

    series_uid: str
    part: int
    n_parts: int
    series_number: int | None
    modality: str
    description: str
    patient_name: str
    patient_id: str
    study_uid: str
    study_description: str
    study_date: str
    kind: str
    frames: tuple[FrameHeader, ...]
    n_files: int
    split_reason: str = ""
    non_image_files: tuple[Path, ...] = ()
    window: tuple[float, float] | None = None
    #: DICOM BodyPartExamined and ContrastBolusAgent ("" when absent): the presets' hints.
    body_part: str = ""
    contrast_agent: str = ""

    @property
    def key(self) -> str:
        return self.series_uid if self.n_parts <= 1 else f"{self.series_uid}#{self.part + 1}"

    @property
    def n_slices(self) -> int:
        return len(self.frames)

    @property
    def is_image_series(self) -> bool:
        """True for series that make a Volume (stacks and single slices with geometry)."""
        return self.kind in LOADABLE_KINDS

    @property
    def matrix(self) -> tuple[int, int] | None:
        """(columns, rows) of the images."""
        return (self.frames[0].cols, self.frames[0].rows) if self.frames else None

    @property
    def pixel_spacing(self) -> tuple[float, float] | None:
        """(column spacing i, row spacing j) in mm."""
        if not self.frames or self.frames[0].pixel_spacing is None:
            return None
        ps = self.frames[0].pixel_spacing
        return (ps[1], ps[0])

    @property
    def slice_spacing(self) -> float | None:
        """Median distance between neighbouring slice positions along the normal, mm."""
        fr = [f for f in self.frames if f.position is not None and f.normal is not None]
        if len(fr) < 2:
            return None
        n = fr[0].normal
        z = np.sort([float(np.dot(f.position, n)) for f in fr])
        d = np.diff(z)
        d = d[d > 1e-4]
        return float(np.median(d)) if d.size else None

    @property
    def transfer_syntaxes(self) -> tuple[str, ...]:
        return tuple(sorted({f.transfer_syntax for f in self.frames}))

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(f.path for f in self.frames))

    def summary(self) -> dict:
        """JSON-friendly description (mm)."""
        return {
            "key": self.key,
            "series_uid": self.series_uid,
            "part": self.part + 1,
            "series_number": self.series_number,
            "modality": self.modality,
            "description": self.description,
            "kind": self.kind,
            "is_image_series": self.is_image_series,
            "n_slices": self.n_slices,
            "n_files": self.n_files,
            "matrix": list(self.matrix) if self.matrix else None,
            "pixel_spacing_mm": list(self.pixel_spacing) if self.pixel_spacing else None,
            "slice_spacing_mm": self.slice_spacing,
            "transfer_syntaxes": list(self.transfer_syntaxes),
            "split_reason": self.split_reason,
            "patient_name": self.patient_name,
            "patient_id": self.patient_id,
            "study_uid": self.study_uid,
            "study_description": self.study_description,
            "study_date": self.study_date,
        }


@dataclass
class Discovery:
    """Everything found under ``root``: series (sorted by patient, study, number) and skipped files."""

    root: Path
    series: list[SeriesInfo] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    n_files: int = 0

    @property
    def image_series(self) -> list[SeriesInfo]:
        return [s for s in self.series if s.is_image_series]

    def find(self, selector: str | int | None = None) -> SeriesInfo:
        """The series chosen by UID (optionally ``#part``), key, or series number.

        With no selector: the image series with most slices. Raises InputError
        listing the choices when nothing (or more than one series) matches.
        """
        candidates = self.image_series
        if selector is None or str(selector).strip() == "":
            if not candidates:
                raise InputError(
                    "no image series to load (found only: "
                    + (", ".join(f"{s.key} [{s.kind}]" for s in self.series) or "nothing")
                    + ")",
                    path=self.root,
                )
            return max(candidates, key=lambda s: (s.kind == "volume", s.n_slices))
        sel = str(selector).strip()
        matches = [s for s in self.series if s.key == sel]
        if not matches:
            matches = [s for s in self.series if s.series_uid == sel]
        if not matches and sel.lstrip("-").isdigit():
            matches = [s for s in self.series if s.series_number == int(sel)]
        if not matches:
            raise InputError(
                f"no series '{sel}' here; choose a Series Instance UID or series number from: "
                + "; ".join(f"{s.series_number} {s.key}" for s in self.series),
                path=self.root,
            )
        loadable = [s for s in matches if s.is_image_series] or matches
        return max(loadable, key=lambda s: (s.kind == "volume", s.n_slices))

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "n_files": self.n_files,
            "series": [s.summary() for s in self.series],
            "skipped": [{"path": str(k.path), "reason": k.reason} for k in self.skipped],
        }


# --------------------------------------------------------------------------- walking
def _not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (a pipe, device, broken or looping link), or None.

    A FIFO would block the reader forever and a device has no size: neither is opened.
    """
    try:
        st = os.stat(path)  # follows a symbolic link, as reading would
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (the link points back at itself)"
        if path.is_symlink():
            return "a broken symbolic link (its target does not exist)"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "a folder where a file was expected"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a pipe, socket or device); not opened"
    return None


def _candidate_files(root: Path, skipped: list[SkippedFile]) -> list[Path]:
    """Every non-hidden regular file under ``root`` plus files a DICOMDIR references.

    Symbolic links to folders are not followed (no loops); folders that cannot be
    listed and files that are not regular files are listed in ``skipped``.
    """
    if not root.is_dir():
        return [root]

    def walk_error(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        skipped.append(SkippedFile(where, f"folder cannot be read ({exc.strerror})"))

    files: list[Path] = []
    dicomdirs: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            why = _not_regular(p)
            if why:
                skipped.append(SkippedFile(p, why))
            elif name.upper() == "DICOMDIR":
                dicomdirs.append(p)
            else:
                files.append(p)
    seen = {os.path.realpath(f) for f in files}  # a file walked and referenced is read once
    for dd in dicomdirs:
        for ref in _dicomdir_references(dd, skipped):
            real = os.path.realpath(ref)
            if real not in seen:
                seen.add(real)
                files.append(ref)
    return files


def _dicomdir_references(path: Path, skipped: list[SkippedFile]) -> list[Path]:
    """Files a DICOMDIR points to, inside its folder (missing or outside ones are skipped)."""
    out: list[Path] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            records = list(ds.get("DirectoryRecordSequence") or [])
        home = path.parent.resolve()
        for rec in records:
            ref = rec.get("ReferencedFileID")
            if not ref:
                continue
            parts = [
                str(p)
                for p in (ref if isinstance(ref, (list, pydicom.multival.MultiValue)) else [ref])
            ]
            if any(q in ("", ".", "..") or "/" in q or "\\" in q for q in parts):
                skipped.append(
                    SkippedFile(
                        path,
                        f"the DICOMDIR names {'/'.join(parts)!r}, which leads outside "
                        "its folder; not read",
                    )
                )
                continue
            p = path.parent.joinpath(*parts)
            if not p.exists():
                # media file IDs are upper case; the copy may be lower case
                alt = path.parent.joinpath(*[q.lower() for q in parts])
                if alt.exists():
                    p = alt
                else:
                    skipped.append(SkippedFile(p, "listed in the DICOMDIR but missing"))
                    continue
            real = p.resolve()
            if not real.is_relative_to(home):
                skipped.append(
                    SkippedFile(p, "listed in the DICOMDIR but links outside its folder; not read")
                )
                continue
            why = _not_regular(p)
            if why:
                skipped.append(SkippedFile(p, why))
                continue
            out.append(real)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on hostile input
        skipped.append(
            SkippedFile(
                path,
                f"DICOMDIR cannot be read ({type(exc).__name__}: {_first_line(exc)}); "
                "folder walked instead",
            )
        )
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


# --------------------------------------------------------------------------- grouping
def _round(v: float, scale: float) -> float:
    """``np.round(v, log10(scale)) + 0.0`` in plain Python (same algorithm: scale, round half
    to even, unscale; -0.0 -> 0.0), about 20x faster on one value."""
    return round(v * scale) / scale + 0.0


def _orientation_key(h: FrameHeader) -> tuple:
    if h.orientation is None:
        return ("none",)
    return tuple(_round(v, 1e3) for v in h.orientation)


def _position_key(h: FrameHeader) -> tuple:
    return tuple(_round(v, 1e2) for v in h.position) if h.position else (h.path, h.frame)


def _split_by_acquisition(frames: list[FrameHeader]) -> tuple[list[list[FrameHeader]], str]:
    """Split frames sharing positions by echo / acquisition / time when that removes the duplicates."""
    counts = Counter(_position_key(f) for f in frames)
    if max(counts.values()) <= 1:
        return [frames], ""
    for attr, label in (
        ("echo_number", "echo number"),
        ("acquisition_number", "acquisition number"),
    ):
        groups: dict = defaultdict(list)
        for f in frames:
            groups[getattr(f, attr)].append(f)
        if len(groups) < 2:
            continue
        if all(max(Counter(_position_key(f) for f in g).values()) <= 1 for g in groups.values()):
            return [groups[k] for k in sorted(groups, key=lambda v: (v is None, v))], label
    return [frames], ""


def _kind(frames: list[FrameHeader]) -> str:
    h = frames[0]
    if any(f.is_localizer for f in frames):
        return "localizer"
    if h.sop_class_uid.startswith(SECONDARY_CAPTURE_PREFIX):
        return "secondary_capture"
    if h.samples_per_pixel != 1:
        return "color"
    if any(f.position is None or f.orientation is None for f in frames):
        return "no_geometry"
    return "volume" if len(frames) > 1 else "image"


def _text(ds, keyword: str) -> str:
    try:
        v = ds.get(keyword) if ds is not None else None
        return "" if v is None else str(v).strip()
    except Exception:  # noqa: BLE001 - an undecodable text value counts as absent
        return ""


def _drop_frames_without_geometry(
    frames: list[FrameHeader], skipped: list[SkippedFile]
) -> list[FrameHeader]:
    """A series' frames less those without a usable position/orientation, when others have one.

    One damaged ImagePositionPatient (NaN, a kilometre away) must not turn a whole CT
    into an unplaceable stack; the damaged slice is left out and named instead.
    """
    placed = [f for f in frames if f.position is not None and f.orientation is not None]
    if not placed or len(placed) == len(frames):
        return frames
    for f in frames:
        if f.position is None or f.orientation is None:
            frame = f" [frame {f.frame}]" if f.n_frames > 1 else ""
            skipped.append(
                SkippedFile(
                    f.path,
                    f"image{frame} without a usable ImagePositionPatient/ImageOrientationPatient "
                    "(missing or damaged) in a series whose other images have one; left out",
                )
            )
    return placed


def _group(
    frames: list[FrameHeader],
    datasets: dict[str, pydicom.Dataset],
    non_image: dict[str, list[Path]],
    skipped: list[SkippedFile] | None = None,
) -> list[SeriesInfo]:
    by_uid: dict[str, list[FrameHeader]] = defaultdict(list)
    for f in frames:
        by_uid[f.series_uid].append(f)
    if skipped is not None:
        for uid in by_uid:
            by_uid[uid] = _drop_frames_without_geometry(by_uid[uid], skipped)
    out: list[SeriesInfo] = []
    for uid in list(by_uid) + [u for u in non_image if u not in by_uid]:
        ds = datasets.get(uid)
        if isinstance(ds, Path):
            ds = read_series_dataset(ds)
        common = dict(
            series_uid=uid,
            series_number=_series_number(ds),
            # the frames' own values when the series header is damaged or unreadable
            modality=_text(ds, "Modality")
            or next((f.modality for f in by_uid.get(uid, []) if f.modality != "OT"), "OT"),
            description=_text(ds, "SeriesDescription"),
            patient_name=_text(ds, "PatientName"),
            patient_id=_text(ds, "PatientID"),
            study_uid=_text(ds, "StudyInstanceUID")
            or next((f.study_uid for f in by_uid.get(uid, []) if f.study_uid), ""),
            study_description=_text(ds, "StudyDescription"),
            study_date=_text(ds, "StudyDate"),
            body_part=_text(ds, "BodyPartExamined"),
            contrast_agent=_text(ds, "ContrastBolusAgent"),
            non_image_files=tuple(non_image.get(uid, ())),
        )
        fr = by_uid.get(uid, [])
        if not fr:
            out.append(
                SeriesInfo(
                    part=0,
                    n_parts=1,
                    kind="non_image",
                    frames=(),
                    n_files=len(non_image[uid]),
                    **common,
                )
            )
            continue
        parts: dict[tuple, list[FrameHeader]] = defaultdict(list)
        for f in fr:
            parts[
                (f.rows, f.cols, f.samples_per_pixel, f.is_localizer, _orientation_key(f))
            ].append(f)
        reasons = []
        keys = list(parts)
        if len({k[:2] for k in keys}) > 1:
            reasons.append("matrix size")
        if len({k[4] for k in keys}) > 1:
            reasons.append("orientation")
        if len({k[3] for k in keys}) > 1:
            reasons.append("localizer")
        pieces: list[list[FrameHeader]] = []
        for k in keys:
            split, label = _split_by_acquisition(parts[k])
            if label and label not in reasons:
                reasons.append(label)
            pieces.extend(split)
        pieces.sort(key=lambda p: (-len(p), min(f.instance_number or 0 for f in p)))
        for i, p in enumerate(pieces):
            wins = [f.window for f in p if f.window]
            out.append(
                SeriesInfo(
                    part=i,
                    n_parts=len(pieces),
                    kind=_kind(p),
                    frames=tuple(p),
                    n_files=len({f.path for f in p}),
                    split_reason=", ".join(reasons) if len(pieces) > 1 else "",
                    window=wins[0] if wins else None,
                    **common,
                )
            )
    out.sort(key=lambda s: (s.patient_id, s.study_uid, s.series_number or 0, s.series_uid, s.part))
    return out


def _series_number(ds) -> int | None:
    try:
        return (
            int(ds.get("SeriesNumber"))
            if ds is not None and ds.get("SeriesNumber") is not None
            else None
        )
    except Exception:  # noqa: BLE001 - damaged or hostile value: no number
        return None


# --------------------------------------------------------------------------- entry point
def discover(path: str | Path, progress: Progress | None = None) -> Discovery:
    """Every DICOM series under ``path`` (a folder tree or one file), headers only.

    Returns a :class:`Discovery` with ``series`` (each a :class:`SeriesInfo`) and
    ``skipped`` (files not used, with the reason). Raises :class:`InputError` when
    the path does not exist or holds no DICOM file at all (the message names
    the folder and the first skipped files), or when ``path`` is a single file
    that cannot be used (the message names the file and the problem).
    """
    root = Path(path)
    if not root.exists():
        if root.is_symlink():
            why = _not_regular(root) or "a broken symbolic link"
            raise InputError(why, path=root, hint="Point at the real folder or file.")
        raise InputError("no such file or folder", path=root, hint="Check the path.")
    if root.is_file() and root.name.upper() == "DICOMDIR":
        root = root.parent  # a media index: the study is the folder it indexes
    if not root.is_dir():
        why = _not_regular(root)
        if why:
            raise InputError(why, path=root, hint="Choose a DICOM file or a folder.")
    skipped: list[SkippedFile] = []
    files = _candidate_files(root, skipped)
    frames: list[FrameHeader] = []
    datasets: dict[str, pydicom.Dataset | Path] = {}
    non_image: dict[str, list[Path]] = defaultdict(list)
    n = len(files)
    report(progress, 0.0, f"reading headers of {n} files")
    step = max(n // 50, 1)
    for idx, f in enumerate(files):
        if idx % step == 0:
            report(progress, idx / max(n, 1), f"reading headers {idx}/{n}")
        try:
            fr, ds = read_frame_headers(f)
        except InputError as exc:
            if root.is_file():
                raise
            skipped.append(SkippedFile(f, exc.message))
            continue
        except Exception as exc:  # noqa: BLE001 - never let one hostile file stop the scan
            msg = f"the file cannot be read ({type(exc).__name__}: {_first_line(exc)})"
            if root.is_file():
                raise InputError(msg, path=f) from None
            skipped.append(SkippedFile(f, msg))
            continue
        if not fr:
            uid = _text(ds, "SeriesInstanceUID")
            sop = _text(ds, "SOPClassUID")
            if not uid or sop.startswith(NON_IMAGE_SOP_PREFIXES[-1]):
                skipped.append(
                    SkippedFile(f, "DICOM file without an image or series (e.g. DICOMDIR)")
                )
                continue
            non_image[uid].append(f)
            datasets.setdefault(uid, ds)
            continue
        uid = fr[0].series_uid
        if not uid:
            uid = f"no-series-uid:{f.parent}"
            fr = [_with_uid(h, uid) for h in fr]
        datasets.setdefault(uid, ds if ds is not None else f)  # Path: read once, later
        frames.extend(fr)
    report(progress, 1.0, "grouping series")
    disc = Discovery(
        root=root, series=_group(frames, datasets, non_image, skipped), skipped=skipped, n_files=n
    )
    if not disc.series:
        if root.is_file() and not frames:
            raise InputError("DICOM file without an image", path=root)
        detail = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:5])
        more = f" (+{len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise InputError(
            f"no DICOM files found in {root}"
            + (
                f" ({len(files)} files skipped: {detail}{more})"
                if skipped
                else " (the folder is empty)"
            ),
            hint="Choose the folder that holds the scan's DICOM files.",
        )
    return disc


def _with_uid(h: FrameHeader, uid: str) -> FrameHeader:
    from dataclasses import replace

    return replace(h, series_uid=uid)
