"""The one way to write a file (ARCHITECTURE.md rule 5, "nothing lost").

Every file surgiplan writes goes through :func:`atomic_write`:

1. refuse a target that is a directory, a symlink or has a name too long for
   the file system; check the free space against the size the caller expects;
2. write to a temporary file in the target's own folder (same file system, so
   the final rename is atomic), keeping the target's suffix because VTK and ITK
   pick the format from it;
3. check what was written: the file exists, its size is plausible (not empty,
   at least ``min_size``, equal to ``expect_size`` when the caller knows it),
   and the caller's ``verify`` (reads the header or the whole file back);
4. ``fsync`` the file, give it the original file's mode (or ``0o666 & ~umask``
   for a new file: ``mkstemp``'s 0600 would lock other users out of a shared
   case), ``rename`` it over the target and ``fsync`` the folder;
5. on any failure remove the temporary file and raise a :class:`WriteError`
   naming the file and the cause (disk full, read-only, permission) and what to
   do. A kill at any moment leaves the old file or the new one, plus at most a
   stale ``.*.tmp*`` file that :func:`clean_stale_temporaries` removes.

Writers that cannot report a short write (VTK's XML writers do not raise on
``ENOSPC``) are guarded twice: the free-space check before and the read-back
after.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from surgiplan.core.errors import InputError, SurgiplanError
from surgiplan.core.jobs import pid_alive

#: Marker inside every temporary file name this module makes (see :func:`temp_path_for`).
TMP_MARK = ".sptmp"
_TMP_RE = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.sptmp(\..*)?$")
#: Longest file-name component most file systems take (ext4, xfs, tmpfs, NTFS).
NAME_MAX = 255
#: Extra room asked beyond the expected size before a write (metadata, rounding).
_SPACE_MARGIN = 64 << 10


class WriteError(SurgiplanError):
    """A file could not be written; the previous file (if any) is unchanged."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_mode() -> int:
    """Permission bits of a new file under the current umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


def describe_os_error(exc: OSError) -> tuple[str, str]:
    """``(what happened, what to do)`` in words for an ``OSError`` from a write."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full", "Free some space (or choose another disk) and save again."
    if code == errno.EROFS:
        return "the folder is on a read-only file system", "Save to a writable folder."
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied", "Check the folder's permissions or save somewhere you may write."
    if code == errno.ENAMETOOLONG:
        return "the file name is too long", "Choose a shorter name."
    if code == errno.EISDIR:
        return "a folder is in the way where a file should be", "Remove or rename that folder."
    if code == errno.ENOTDIR:
        return "a file is in the way where a folder should be", "Remove or rename that file."
    if code == errno.ELOOP:
        return "the path is a symbolic link, which surgiplan does not follow", "Use the real path."
    if code == errno.EIO:
        return "the disk reported an input/output error", "Check the disk and save elsewhere."
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:], "Check the folder and try again."


def write_error(path: Path, exc: BaseException) -> WriteError:
    """A :class:`WriteError` for ``path`` explaining ``exc``."""
    if isinstance(exc, WriteError):
        return exc
    if isinstance(exc, OSError):
        what, hint = describe_os_error(exc)
        return WriteError(f"cannot save: {what}; the previous file is unchanged", path=path, hint=hint)
    return WriteError(f"cannot save ({type(exc).__name__}: {exc}); the previous file is unchanged",
                      path=path, hint="Check the folder and the free space and try again.")


def check_name_length(path: Path) -> None:
    """InputError when a component of ``path`` is longer than the file system allows."""
    for part in Path(path).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise InputError(f"a name in this path is {len(os.fsencode(part))} bytes long "
                             f"(the limit is {NAME_MAX})", path=_short(path),
                             hint="Choose a shorter name.")


def _short(path: Path) -> str:
    s = str(path)
    return s if len(s) <= 200 else s[:90] + "..." + s[-90:]


def check_free_space(folder: Path, need: int, path: Path | None = None) -> None:
    """WriteError when ``folder``'s file system has less than ``need`` bytes (+64 KiB) free."""
    if need <= 0:
        return
    try:
        st = os.statvfs(folder)
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    if need + _SPACE_MARGIN > free:
        raise WriteError(
            f"cannot save: the disk is full ({free / 1e6:.1f} MB free, about "
            f"{(need + _SPACE_MARGIN) / 1e6:.1f} MB needed); the previous file is unchanged",
            path=path or folder, hint="Free some space (or choose another disk) and save again.")


def temp_path_for(path: Path) -> Path:
    """A new temporary name beside ``path`` that keeps its suffix(es): ``.<name>.<pid>.<rand>.sptmp<suffixes>``."""
    path = Path(path)
    suffixes = "".join(path.suffixes[-2:]) if path.name.endswith((".nii.gz", ".seg.nrrd")) else path.suffix
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    stem = stem[:100]
    return path.with_name(f".{stem}.{os.getpid()}.{secrets.token_hex(4)}{TMP_MARK}{suffixes}")


def is_temporary(name: str) -> bool:
    """True for a file name made by :func:`temp_path_for`."""
    return bool(_TMP_RE.match(name))


def clean_stale_temporaries(folder: Path, recursive: bool = True) -> list[Path]:
    """Remove this module's temporary files left in ``folder`` by a killed save; returns them.

    Symbolic links are not followed. A temporary file of a still-running process
    (its pid alive) is left alone.
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return removed
    for dirpath, _dirnames, filenames in os.walk(folder, followlinks=False):
        for name in filenames:
            if not is_temporary(name):
                continue
            try:
                pid = int(re.match(r"^\..+\.(\d+)\.[0-9a-f]{8}\.sptmp", name).group(1))
            except (AttributeError, ValueError):
                pid = -1
            if pid > 0 and pid != os.getpid() and pid_alive(pid):
                continue
            p = Path(dirpath) / name
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
        if not recursive:
            break
    return removed




def _check_target(path: Path) -> None:
    check_name_length(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(path, exc) from None
    if stat.S_ISLNK(st.st_mode):
        raise WriteError("cannot save: the target is a symbolic link, which surgiplan does not "
                         "follow or replace", path=path, hint="Remove the link or save elsewhere.")
    if stat.S_ISDIR(st.st_mode):
        raise WriteError("cannot save: a folder is in the way where this file should be",
                         path=path, hint="Remove or rename that folder, or choose another name.")
    if not stat.S_ISREG(st.st_mode):  # a device or pipe: renaming over it would replace the node
        raise WriteError("cannot save: the target is not a regular file (a device, pipe or socket)",
                         path=path, hint="Choose a file name.")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk; ignored where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ensure_folder(folder: Path) -> None:
    """Create ``folder`` (and parents); WriteError naming it when that fails."""
    folder = Path(folder)
    check_name_length(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteError("cannot save: a file is in the way where a folder should be",
                         path=folder, hint="Remove or rename that file.") from None
    except OSError as exc:
        raise write_error(folder, exc) from None
    if not folder.is_dir():
        raise WriteError("cannot save: a file is in the way where a folder should be",
                         path=folder, hint="Remove or rename that file.")


def stage(path: str | Path, writer: Callable[[Path], object], *,
          verify: Callable[[Path], None] | None = None, expect_size: int | None = None,
          min_size: int = 1, need_bytes: int | None = None, mode: int | None = None) -> Path:
    """Write a checked, fsynced temporary file for ``path`` and return its name (not renamed yet).

    :func:`atomic_write` is ``stage`` followed by :func:`commit`; multi-file saves stage
    every file first and rename them in a recorded order (see ``planning/case_save``).
    """
    path = Path(path)
    ensure_folder(path.parent)
    _check_target(path)
    check_free_space(path.parent, int(need_bytes if need_bytes is not None else (expect_size or 0)), path)
    tmp = temp_path_for(path)
    try:
        writer(tmp)
        try:
            st = os.lstat(tmp)
        except FileNotFoundError:
            raise WriteError("cannot save: the writer produced no file", path=path,
                             hint="Check the free space and try again.") from None
        if not stat.S_ISREG(st.st_mode):
            raise WriteError("cannot save: the writer produced something other than a file", path=path)
        if st.st_size < min_size:
            raise WriteError(f"cannot save: only {st.st_size} bytes were written (the disk may be "
                             "full); the previous file is unchanged", path=path,
                             hint="Free some space and save again.")
        if expect_size is not None and st.st_size != expect_size:
            raise WriteError(f"cannot save: {st.st_size} bytes were written instead of {expect_size} "
                             "(the disk may be full); the previous file is unchanged", path=path,
                             hint="Free some space and save again.")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if verify is not None:
            try:
                verify(tmp)
            except SurgiplanError as exc:
                raise WriteError(f"cannot save: the written file does not read back ({exc.message}); "
                                 "the previous file is unchanged", path=path,
                                 hint="Free some space and save again.") from None
        os.chmod(tmp, _mode_for(path) if mode is None else mode)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, SurgiplanError) and not isinstance(exc, WriteError):
            raise
        raise write_error(path, exc) from None
    return tmp


def commit(tmp: Path, path: str | Path) -> Path:
    """Rename a staged temporary file over ``path`` and flush the folder."""
    path = Path(path)
    try:
        _check_target(path)
        os.replace(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise write_error(path, exc) from None
    fsync_dir(path.parent)
    return path


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return default_mode()


def _remove(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write(path: str | Path, writer: Callable[[Path], object], **kw) -> Path:
    """Write ``path`` through ``writer(temporary_path)`` safely (see the module docstring).

    Parameters
    ----------
    path:
        The final file.
    writer:
        Called with the temporary path (same folder, same suffix); writes the whole file there.
    verify:
        Optional ``verify(temporary_path)`` that raises when the file does not read back.
    expect_size:
        Exact byte count the file must have, when known.
    min_size:
        Fewest bytes a complete file can have (default 1: an empty file is a failed write).
    need_bytes:
        Free space to require before writing (defaults to ``expect_size``).
    mode:
        Permission bits; default the existing file's, else ``0o666 & ~umask``.

    Returns
    -------
    Path
        ``path``.
    """
    tmp = stage(path, writer, **kw)
    return commit(tmp, path)


def atomic_write_bytes(path: str | Path, data: bytes, **kw) -> Path:
    """Write ``data`` to ``path`` atomically, its byte count checked."""

    def _w(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()

    kw.setdefault("min_size", 0)
    return atomic_write(path, _w, expect_size=len(data), **kw)


def atomic_write_text(path: str | Path, text: str, **kw) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, its byte count checked."""
    return atomic_write_bytes(path, text.encode("utf-8"), **kw)


def stage_text(path: str | Path, text: str) -> Path:
    """:func:`stage` for a UTF-8 text: the checked temporary file, not yet renamed."""
    data = text.encode("utf-8")

    def _w(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return stage(path, _w, expect_size=len(data), min_size=0)


# --------------------------------------------------------------------- reading
def open_regular_nofollow(path: str | Path, flags: int = os.O_RDONLY) -> int:
    """``os.open`` that refuses a symbolic link and anything but a regular file; returns the fd.

    Raises InputError naming the file.
    """
    path = Path(path)
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("is a symbolic link, which surgiplan does not follow inside a case",
                             path=path, hint="Replace the link with the real file.") from None
        what, hint = describe_os_error(exc)
        raise InputError(f"cannot open ({what})", path=path, hint=hint) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InputError("is not a regular file", path=path, hint="Remove it or replace it with the file.")
    return fd


def check_inside(root: str | Path, path: str | Path, what: str = "file") -> Path:
    """``root/path`` after checking it stays inside ``root`` and crosses no symbolic link.

    ``path`` may be relative to ``root`` or absolute. InputError naming the path otherwise.
    """
    root = Path(root)
    p = Path(path)
    rel = p.relative_to(root) if p.is_absolute() and p.is_relative_to(root) else p
    if rel.is_absolute() or any(part == ".." for part in rel.parts):
        raise InputError(f"the {what} path {str(path)!r} leads outside its folder", path=root,
                         hint="The file may be hostile; nothing was read.")
    cur = root
    for part in rel.parts:
        cur = cur / part
        if cur.is_symlink():
            raise InputError(f"the {what} is reached through a symbolic link, which surgiplan does not "
                             "follow inside a case", path=cur, hint="Replace the link with the real file.")
    return cur


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` name the same file (also through links or ``..``)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_output(out: str | Path, inputs: Iterable[str | Path] = (), *, overwrite: bool = False,
                 protected: Iterable[str | Path] = (), kind: str = "file") -> Path:
    """Refuse an output path that would overwrite an input, or land inside a protected folder.

    Parameters
    ----------
    out:
        The output file (or folder when ``kind == "folder"``).
    inputs:
        Files and folders the command reads; ``out`` may be none of them, nor lie inside
        a folder among them.
    overwrite:
        Whether an existing output may be replaced (``--overwrite``).
    protected:
        Folders (e.g. the case the command reads) that ``out`` may not lie inside.
    kind:
        ``"file"`` or ``"folder"``.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    check_name_length(out)
    real_out = Path(os.path.realpath(out))
    for i in inputs:
        i = Path(i)
        if same_file(out, i):
            raise InputError(f"the output is the same file as the input {i}", path=out,
                             hint="Choose another output name: surgiplan never overwrites its input.")
        if i.is_dir() and real_out.is_relative_to(os.path.realpath(i)):
            raise InputError(f"the output lies inside the input folder {i}", path=out,
                             hint="Choose an output outside it: surgiplan never writes into its input.")
        if kind == "folder" and Path(os.path.realpath(i)).is_relative_to(real_out) and out.exists():
            raise InputError(f"the output folder holds the input {i}", path=out,
                             hint="Choose another output folder.")
    for folder in protected:
        if real_out.is_relative_to(os.path.realpath(folder)):
            raise InputError(f"the output lies inside the case folder {folder}", path=out,
                             hint="Write it outside the case; only saving the case writes inside it.")
    if out.is_symlink():
        raise InputError("the output is a symbolic link, which surgiplan does not replace", path=out,
                         hint="Remove the link or choose another name.")
    if kind == "file":
        if out.is_dir():
            raise InputError("the output is a folder, not a file", path=out,
                             hint="Give a file name inside it.")
        if out.exists() and not out.is_file():
            raise InputError("the output exists and is not a regular file (a device, pipe or socket)",
                             path=out, hint="Choose a file name.")
        if out.exists() and not overwrite:
            raise InputError("the output file exists", path=out,
                             hint="Choose another name or pass --overwrite to replace it.")
    else:
        if out.exists() and not out.is_dir():
            raise InputError("the output exists and is not a folder", path=out,
                             hint="Choose another folder name.")
    return out
