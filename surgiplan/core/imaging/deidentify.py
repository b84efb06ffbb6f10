"""De-identification of DICOM files: PS3.15 Basic Application Level Confidentiality Profile.

The action for every attribute comes from the standard's Table E.1-1 (2024b),
loaded at run time from ``resources/dicom/ps3.15_confidentiality_profile_attributes.json``:

* X remove, Z empty, D dummy value (differs from the input), U new UID
  (one-to-one and consistent over the whole run, so references inside
  sequences still point at the right instances), K keep, C clean;
* the compound actions are resolved without the IOD module tables: X/Z -> Z,
  X/D -> X, X/Z/D and Z/D -> Z, except attributes that are Type 1 in the
  Enhanced (multi-frame) IODs, which get D there; X/Z/U* sequences are kept
  and their UIDs remapped;
* all private attributes (odd groups) and the repeating groups 50xx (curves)
  and 60xx overlay data/comments are removed;
* options (``DEID_OPTIONS``) switch the option columns on: retained dates (full
  or shifted by a fixed number of days), UIDs, device/institution identity,
  patient characteristics, clean descriptors / structured content / graphics.

PatientIdentityRemoved = YES, DeidentificationMethod and its Code Sequence
(113100 + one code per option) are set. The input is only read (the output may be
neither the input folder, nor inside it, nor hold it); every file is written
through the one write path (:mod:`surgiplan.core.fileio`) into a temporary folder
that is renamed when complete.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from surgiplan.core.errors import InputError
from surgiplan.core.fileio import (
    atomic_write,
    check_output,
    ensure_folder,
    fsync_dir,
    write_error,
)
from surgiplan.core.imaging.dicom_discovery import SkippedFile, _candidate_files
from surgiplan.core.imaging.dicom_headers import read_frame_headers
from surgiplan.core.jobs import Progress, check_cancelled, report

#: option column -> (DCM code, code meaning) of the De-identification Method Code Sequence
DEID_OPTIONS: dict[str, tuple[str, str]] = {
    "clean_graphics": ("113103", "Clean Graphics Option"),
    "clean_structured_content": ("113104", "Clean Structured Content Option"),
    "clean_descriptions": ("113105", "Clean Descriptors Option"),
    "retain_longitudinal_full_dates": (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    "retain_longitudinal_modified_dates": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
}
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
TABLE_FILE = "ps3.15_confidentiality_profile_attributes.json"
#: attributes that are Type 1 in the Enhanced multi-frame IODs (compound actions give D there)
_ENHANCED_TYPE1 = {0x00080023, 0x00080033, 0x0008002A, 0x00181000}
_CLEANED_TEXT = "CLEANED"


def table_path() -> Path:
    """The shipped copy of PS3.15 Table E.1-1 (``SURGIPLAN_RESOURCES`` overrides the folder)."""
    env = os.environ.get("SURGIPLAN_RESOURCES")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "resources"
    return root / "dicom" / TABLE_FILE


@dataclass(frozen=True)
class ProfileTable:
    """Table E.1-1 indexed by tag: exact tags, repeating-group masks, and the private row."""

    exact: dict[int, dict]
    masks: list[tuple[int, int, dict]]  # (mask, value, row)
    private: dict


@lru_cache(maxsize=2)
def load_profile_table(path: str | None = None) -> ProfileTable:
    """Parse the table JSON ("(gggg,eeee)" tags; 'XX' = any hex digits; the GGGG row = odd groups)."""
    p = Path(path) if path else table_path()
    try:
        data = json.loads(p.read_text())
        rows = data["attributes"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot read the de-identification table ({exc})", path=p) from None
    exact: dict[int, dict] = {}
    masks: list[tuple[int, int, dict]] = []
    private: dict = {}
    for row in rows:
        tag = row["tag"]
        if "GGGG" in tag:
            private = row
            continue
        hexes = tag.strip("()").replace(",", "")
        if "X" in hexes.upper():
            mask = int("".join("0" if c in "xX" else "F" for c in hexes), 16)
            value = int("".join("0" if c in "xX" else c for c in hexes), 16)
            masks.append((mask, value, row))
        else:
            exact[int(hexes, 16)] = row
    return ProfileTable(exact, masks, private)


def _row(table: ProfileTable, tag: int) -> dict | None:
    row = table.exact.get(tag)
    if row is not None:
        return row
    for mask, value, r in table.masks:
        if tag & mask == value:
            return r
    return None


@dataclass
class DeidResult:
    """What :func:`deidentify` wrote."""

    out_dir: Path
    n_written: int
    skipped: list[SkippedFile] = field(default_factory=list)
    uid_map: dict[str, str] = field(default_factory=dict)
    options: tuple[str, ...] = ()
    files: dict[Path, Path] = field(default_factory=dict)  # input -> output


class _Deidentifier:
    def __init__(self, table: ProfileTable, options: tuple[str, ...]):
        self.table = table
        self.options = options
        self.salt = secrets.token_hex(16)
        self.uid_map: dict[str, str] = {}
        self.day_shift = -(
            secrets.randbelow(3650) + 365
        )  # modified dates: a fixed shift, 1..11 years back

    # ---------------------------------------------------------------- actions
    def action(self, tag: int) -> str | None:
        row = self.table.private if tag >> 16 & 1 else _row(self.table, tag)
        if row is None:
            return None
        act = row["basic_profile"]
        for opt in self.options:  # an option column overrides where it has a value
            if row.get(opt):
                act = row[opt]
        return act

    def new_uid(self, uid: str) -> str:
        uid = str(uid).strip()
        if not uid:
            return uid
        if uid not in self.uid_map:
            self.uid_map[uid] = generate_uid(prefix=None, entropy_srcs=[self.salt, uid])
        return self.uid_map[uid]

    def dummy(self, elem) -> object:
        vr = elem.VR
        old = elem.value
        choices = {
            "PN": ["ANONYMOUS", "ANONYMOUS^X"],
            "DA": ["19000101", "19000102"],
            "DT": ["19000101000000", "19000102000000"],
            "TM": ["000000", "000001"],
            "AS": ["000Y", "001Y"],
            "DS": ["0", "1"],
            "IS": ["0", "1"],
            "UI": [None],
            "CS": ["ANONYMIZED", "REMOVED"],
            "AE": ["ANONYMIZED", "REMOVED"],
        }.get(vr, ["ANONYMIZED", "REMOVED"])
        if vr == "UI":
            return self.new_uid(str(old)) if old else generate_uid()
        if vr in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
            return 1 if old in (0, None) else 0
        if vr in ("OB", "OW", "UN", "OF", "OD", "OL", "OV"):
            return b"\x00\x00"
        for c in choices:
            if str(old) != c:
                return c
        return choices[-1]

    def clean(self, elem) -> object:
        vr = elem.VR
        if vr in ("DA", "DT") and "retain_longitudinal_modified_dates" in self.options:
            return self.shift_date(elem.value, vr)
        if vr == "TM":
            return elem.value
        if vr == "UI":
            return self.new_uid(str(elem.value))
        value = self.dummy(elem)
        return (
            _CLEANED_TEXT
            if vr in ("LO", "SH", "LT", "ST", "UT", "UC", "PN", "CS")
            and str(elem.value) != _CLEANED_TEXT
            else value
        )

    def shift_date(self, value, vr: str):
        def one(v: str) -> str:
            v = str(v).strip()
            if len(v) < 8 or not v[:8].isdigit():
                return v
            try:
                d = _dt.date(int(v[:4]), int(v[4:6]), int(v[6:8])) + _dt.timedelta(
                    days=self.day_shift
                )
            except ValueError:
                return "19000101" + v[8:]
            return d.strftime("%Y%m%d") + v[8:]

        if isinstance(value, (list, pydicom.multival.MultiValue)):
            return [one(v) for v in value]
        return one(value)

    # ---------------------------------------------------------------- walk
    def apply(self, ds: Dataset, enhanced: bool) -> None:
        for tag in list(ds.keys()):
            elem = ds[tag]
            t = int(tag)
            act = self.action(t)
            if act is None:
                if elem.VR == "SQ":
                    for item in elem.value:
                        self.apply(item, enhanced)
                continue
            if act in ("X/Z", "X/Z/D", "Z/D", "X/D"):
                if enhanced and t in _ENHANCED_TYPE1:
                    act = "D"
                else:
                    act = {"X/Z": "Z", "X/Z/D": "Z", "Z/D": "Z", "X/D": "X"}[act]
            if act == "X":
                del ds[tag]
            elif act == "Z":
                elem.value = (
                    Sequence() if elem.VR == "SQ" else ("" if elem.VR not in _BINARY_VRS else None)
                )
            elif act in ("D", "C", "K", "U", "X/Z/U*") and elem.VR == "SQ":
                for item in elem.value:
                    self.apply(item, enhanced)
            elif act == "D":
                elem.value = self.dummy(elem)
            elif act == "U":
                if elem.VM > 1:
                    elem.value = [self.new_uid(u) for u in elem.value]
                elif elem.value:
                    elem.value = self.new_uid(elem.value)
            elif act == "C":
                elem.value = self.clean(elem)
            # K: keep as is

    def method_text(self) -> str:
        names = [DEID_OPTIONS[o][1] for o in self.options]
        return "; ".join(
            ["PS3.15 Basic Application Level Confidentiality Profile (surgiplan)"] + names
        )[:64]

    def mark(self, ds: Dataset) -> None:
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = self.method_text()
        items = []
        for code, meaning in [BASIC_PROFILE_CODE] + [DEID_OPTIONS[o] for o in self.options]:
            it = Dataset()
            it.CodeValue = code
            it.CodingSchemeDesignator = "DCM"
            it.CodeMeaning = meaning
            items.append(it)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        if "retain_longitudinal_full_dates" in self.options:
            ds.LongitudinalTemporalInformationModified = "UNMODIFIED"
        elif "retain_longitudinal_modified_dates" in self.options:
            ds.LongitudinalTemporalInformationModified = "MODIFIED"
        else:
            ds.LongitudinalTemporalInformationModified = "REMOVED"


_BINARY_VRS = {
    "US",
    "SS",
    "UL",
    "SL",
    "FL",
    "FD",
    "UV",
    "SV",
    "OB",
    "OW",
    "UN",
    "OF",
    "OD",
    "OL",
    "OV",
    "AT",
}


def _check_options(options) -> tuple[str, ...]:
    out = []
    for o in options:
        key = str(o).strip().lower().replace("-", "_")
        by_code = {v[0]: k for k, v in DEID_OPTIONS.items()}
        key = by_code.get(key, key)
        if key == "retain_safe_private":
            raise InputError(
                "the Retain Safe Private option is not supported: surgiplan removes all private attributes"
            )
        if key not in DEID_OPTIONS:
            raise InputError(
                f"unknown de-identification option '{o}'; choose from {', '.join(DEID_OPTIONS)}"
            )
        if key not in out:
            out.append(key)
    if "retain_longitudinal_full_dates" in out and "retain_longitudinal_modified_dates" in out:
        raise InputError("choose either full dates or modified dates, not both")
    return tuple(out)


def _series_number(ds: Dataset) -> int:
    """SeriesNumber as a non-negative int (0 when absent or damaged).

    pydicom keeps an invalid IS value as the raw text: "../../x" must never reach a
    folder name.
    """
    try:
        number = int(float(str(ds.get("SeriesNumber", 0) or 0).strip()))
    except Exception:  # noqa: BLE001 - damaged or hostile value
        return 0
    return number if 0 <= number < 10**9 else 0


def _read_back(path: Path) -> None:
    """Raise InputError unless ``path`` reads back as a DICOM instance (the header)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        ok = "SOPInstanceUID" in ds
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds
        raise InputError(f"not readable ({type(exc).__name__})", path=path) from None
    if not ok:
        raise InputError("no SOP Instance UID after writing", path=path)


def _deidentify_one(deid: _Deidentifier, f: Path, opts, series_dirs) -> tuple[Dataset, str]:
    """The de-identified dataset of ``f`` and its output folder name; InputError when unusable."""
    read_frame_headers(f)  # the loader's checks: truncated, empty, inconsistent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(f)
    if "SOPInstanceUID" not in ds:
        raise InputError("not a DICOM instance (no SOP Instance UID)", path=f)
    series_uid = str(ds.get("SeriesInstanceUID", ""))
    if series_uid not in series_dirs:
        base = f"S{_series_number(ds)}"
        k = sum(1 for v in series_dirs.values() if v.startswith(base + "_")) + 1
        series_dirs[series_uid] = f"{base}_{k}"
    folder = series_dirs[series_uid]
    enhanced = "SharedFunctionalGroupsSequence" in ds
    ds.remove_private_tags()
    deid.apply(ds, enhanced)
    if ds.file_meta is not None:
        deid.apply(ds.file_meta, enhanced)  # (0002,0003) U
        if "retain_device_identity" not in opts:  # sending station's AE titles
            for kw in (
                "SourceApplicationEntityTitle",
                "SendingApplicationEntityTitle",
                "ReceivingApplicationEntityTitle",
            ):
                if kw in ds.file_meta:
                    delattr(ds.file_meta, kw)
        if "MediaStorageSOPInstanceUID" in ds.file_meta:
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    deid.mark(ds)
    return ds, folder


def deidentify(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    options=(),
    progress: Progress | None = None,
) -> DeidResult:
    """Write a de-identified copy of every DICOM file under ``src_dir`` into ``out_dir``.

    ``out_dir`` must not exist (or be empty), and may be neither the input nor inside it
    nor hold it. Files are named ``S<series number>_<n>/IM<k>.dcm`` (input names may carry
    identifiers). Files that are not DICOM, damaged or hostile (and DICOMDIR) are skipped
    and listed. The input is never modified; each file is written through
    :func:`surgiplan.core.fileio.atomic_write` into a temporary folder beside ``out_dir``,
    which is renamed to ``out_dir`` only when every file was written.
    """
    src = Path(src_dir)
    out = Path(out_dir)
    opts = _check_options(options)
    if not src.exists():
        raise InputError("no such file or folder", path=src)
    check_output(out, [src], kind="folder")
    if out.exists() and any(out.iterdir()):
        raise InputError(
            "the output folder exists and is not empty", path=out, hint="Choose a new folder."
        )
    table = load_profile_table()
    deid = _Deidentifier(table, opts)
    skipped: list[SkippedFile] = []
    files = _candidate_files(src, skipped)
    ensure_folder(out.parent)
    try:
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{out.name[:100]}.", suffix=".sptmp-dir", dir=out.parent)
        )
    except OSError as exc:
        raise write_error(out, exc) from None
    written: dict[Path, Path] = {}
    series_dirs: dict[str, str] = {}
    counters: dict[str, int] = {}
    try:
        for n, f in enumerate(files):
            check_cancelled(progress)
            if n % 10 == 0:
                report(progress, n / max(len(files), 1), f"de-identifying {n}/{len(files)}")
            if f.name.upper() == "DICOMDIR":
                skipped.append(SkippedFile(f, "DICOMDIR not copied (it names the original files)"))
                continue
            try:
                ds, folder = _deidentify_one(deid, f, opts, series_dirs)
            except InputError as exc:
                skipped.append(SkippedFile(f, exc.message))
                continue
            except Exception as exc:  # noqa: BLE001 - one hostile file must not stop the copy
                text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
                skipped.append(
                    SkippedFile(
                        f,
                        f"not a usable DICOM file ({type(exc).__name__}"
                        f"{': ' + text if text else ''})",
                    )
                )
                continue
            counters[folder] = counters.get(folder, 0) + 1
            target = tmp / folder / f"IM{counters[folder]:05d}.dcm"

            def write(t: Path, ds=ds) -> None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds.save_as(t, enforce_file_format=False)

            atomic_write(target, write, verify=_read_back, min_size=132)
            written[f] = out / folder / target.name
        if not written:
            raise InputError(
                "no DICOM files to de-identify"
                + (
                    f" ({len(skipped)} files skipped: "
                    + "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:3])
                    + ")"
                    if skipped
                    else ""
                ),
                path=src,
            )
        report(progress, 1.0, "finishing")
        try:
            if out.exists():
                out.rmdir()  # empty (checked above)
            os.replace(tmp, out)
        except OSError as exc:
            raise write_error(out, exc) from None
        fsync_dir(out.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return DeidResult(out, len(written), skipped, dict(deid.uid_map), opts, written)
