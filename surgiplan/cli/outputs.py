"""What every command checks before it writes (issue 21, "outputs never overwrite inputs").

The commands call these before any work, so a refused output costs nothing and
changes nothing:

* :func:`check_file` / :func:`check_folder`: ``fileio.check_output`` with the
  command's inputs (plus the files an input drags along: a label map's ``.json``,
  a detached header's data file) and, as protected folders, every case folder
  that holds an input or the output (only the case's own save writes inside a
  case); then :func:`check_writable` so that a read-only or impossible location
  is reported before a long computation rather than after it.

Policy: an existing output file is refused unless ``--overwrite`` is given; an
output that is an input, lies in an input folder or in a case, is a symbolic
link, a folder where a file is expected or a device is always refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

import typer

CASE_FILE = "case.json"

#: ``--overwrite`` as every writing command spells it.
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace an existing output file.")


def enclosing_cases(*paths: str | Path | None) -> list[Path]:
    """Case folders (holding ``case.json``) that are, or contain, any of ``paths``.

    Both the path as written and its real path (links resolved) are walked up, so a
    case reached through a link or ``..`` is found too.
    """
    found: list[Path] = []
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        for start in (Path(os.path.abspath(p)), Path(os.path.realpath(p))):
            for folder in (start, *start.parents):
                if folder not in found and is_case_folder(folder):
                    found.append(folder)
    return found


def is_case_folder(folder: Path) -> bool:
    """True for a surgiplan case: ``case.json`` with its ``history.jsonl`` or its format marker
    (a stray ``case.json`` elsewhere, e.g. in a home folder, does not make one)."""
    try:
        f = folder / CASE_FILE
        if not f.is_file():
            return False
        if (folder / "history.jsonl").exists():
            return True
        with open(f, "rb") as fh:
            return b"surgiplan-case" in fh.read(4096)
    except OSError:  # a name too long, a loop, unreadable: not a case we can recognise
        return False


def _detached_data_files(header: Path) -> list[Path]:
    """The data file(s) a detached NRRD (.nhdr) or MetaImage (.mhd) header names."""
    try:
        with open(header, "rb") as fh:
            head = fh.read(64 << 10)
    except OSError:
        return []
    out = []
    for raw in head.decode("latin-1").splitlines():
        key, sep, value = raw.partition(":") if header.suffix.lower() == ".nhdr" else raw.partition("=")
        key = key.strip().lower()
        if sep and key in ("data file", "datafile", "elementdatafile"):
            value = value.strip()
            if value and not value.upper().startswith(("LIST", "LOCAL")) and "%" not in value:
                out.append(header.parent / value)
    return out


def input_files(*paths: str | Path | None) -> list[Path]:
    """``paths`` plus what reading them also reads: a label map's ``<name>.json``, a detached
    header's data file (None entries dropped). InputError for a name too long to exist."""
    from surgiplan.core.fileio import check_name_length
    from surgiplan.core.imaging.volume_io import volume_suffix

    out: list[Path] = []
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        check_name_length(p)
        out.append(p)
        name = p.name.lower()
        suffix = volume_suffix(p)
        if suffix in (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd") and not name.endswith(
                (".seg.nrrd", ".seg.nhdr")):
            side = p.with_name(p.name[: len(p.name) - len(suffix)] + ".json")
            if os.path.lexists(side):
                out.append(side)
        if suffix in (".nhdr", ".mhd"):
            out.extend(_detached_data_files(p))
    return out


def check_writable(out: str | Path, *, folder: bool = False) -> None:
    """WriteError naming ``out`` (and the folder at fault) when it cannot be created: a file
    where a folder is needed on the way, a read-only file system, no write permission."""
    from surgiplan.core.fileio import WriteError, describe_os_error

    out = Path(out)
    is_folder = folder
    folder = Path(os.path.abspath(out))
    if not (is_folder and os.path.isdir(folder)):
        folder = folder.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    try:
        st = os.stat(folder)
    except OSError as exc:
        what, hint = describe_os_error(exc)
        raise WriteError(f"cannot save here: {folder}: {what}", path=out, hint=hint) from None
    if not stat.S_ISDIR(st.st_mode):
        raise WriteError(f"cannot save here: {folder} is a file where a folder should be", path=out,
                         hint="Remove or rename that file, or choose another output.")
    try:
        ro = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        ro = False
    if ro:
        raise WriteError(f"cannot save here: {folder} is on a read-only file system", path=out,
                         hint="Choose an output on a writable disk.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(f"cannot save here: no permission to write in {folder}", path=out,
                         hint="Choose a folder you may write to.")


def check_file(out: str | Path, inputs: Iterable[str | Path | None] = (), *, overwrite: bool = False,
               protected: Iterable[str | Path] = ()) -> Path:
    """Check the output file ``out`` against the command's inputs before any work (see module doc)."""
    from surgiplan.core.fileio import check_output

    ins = input_files(*inputs)
    prot = [*protected, *enclosing_cases(*ins, out)]
    check_output(out, ins, overwrite=overwrite, protected=prot, kind="file")
    check_writable(out)
    return Path(out)


def check_folder(out: str | Path, inputs: Iterable[str | Path | None] = (), *,
                 protected: Iterable[str | Path] = (), may_hold_inputs: bool = False) -> Path:
    """Check the output folder ``out`` (its files are checked one by one with :func:`check_file`).

    ``may_hold_inputs``: the command only adds files to ``out`` (each checked on its own), so
    an existing ``out`` may hold an input, e.g. models written beside their segmentation.
    """
    from surgiplan.core.fileio import check_name_length, check_output

    check_name_length(Path(out))
    ins = input_files(*inputs)
    prot = [*protected, *enclosing_cases(*ins, out)]
    if may_hold_inputs:
        real_out = Path(os.path.realpath(out))
        ins = [i for i in ins if not (Path(os.path.realpath(i)).is_relative_to(real_out)
                                      and Path(os.path.realpath(i)) != real_out)]
    check_output(out, ins, protected=prot, kind="folder")
    check_writable(out, folder=True)
    return Path(out)
