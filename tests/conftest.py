"""Shared test fixtures.

The outside reference data (``../shared/data``) is found through one setting,
``SURGIPLAN_TEST_DATA`` (default ``../shared/data`` from the repository root,
made absolute). Where it is absent tests skip with a reason, except under CI
(``CI=true``) where a missing folder is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """Absolute path of the shared test data folder (it may not exist)."""
    value = os.environ.get("SURGIPLAN_TEST_DATA")
    path = Path(value) if value else REPO_ROOT.parent / "shared" / "data"
    return path.resolve()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_shared(*parts: str) -> Path:
    """The shared data path ``parts`` under the data root; skip (or fail in CI) if absent."""
    path = shared_data_root().joinpath(*parts)
    if not path.exists():
        msg = f"shared test data not found at {path} (set SURGIPLAN_TEST_DATA)"
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ``../shared/data``; skips (fails under CI) when absent."""
    return require_shared()


@pytest.fixture(scope="session")
def dicom_data(shared_data: Path) -> Path:
    return require_shared("dicom")


def _mount_tmpfs(mnt: Path, size: str) -> None:
    """Mount a fresh tmpfs of ``size`` at ``mnt``; skip (never fake) where that is not permitted."""
    import shutil
    import subprocess

    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (full-disk and read-only tests are not faked)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()})")


def _umount(mnt: Path) -> None:
    import subprocess

    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture()
def small_tmpfs(tmp_path):
    """A real 256 KiB tmpfs (a disk that fills up with one small file); unmounted afterwards."""
    mnt = tmp_path / "disk"
    _mount_tmpfs(mnt, "256k")
    try:
        yield mnt
    finally:
        _umount(mnt)


@pytest.fixture()
def tiny_disk(tmp_path):
    """A fresh tmpfs mount of 2 MiB (a small, really full-able disk); skips where mounting is not allowed.

    Yields ``(mount_point, fill, remount_ro)``: ``fill(leave_bytes)`` fills the disk
    until about ``leave_bytes`` are free; ``remount_ro()`` makes it read-only.
    """
    import subprocess

    mnt = tmp_path / "disk"
    _mount_tmpfs(mnt, "2m")

    def fill(leave_bytes: int) -> None:
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        if free > leave_bytes:
            with open(mnt / ".filler", "ab") as fh:
                fh.write(b"\0" * (free - leave_bytes))

    def remount_ro() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)

    try:
        yield mnt, fill, remount_ro
    finally:
        _umount(mnt)
