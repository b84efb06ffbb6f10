"""The lean header parser (discovery's hot path) agrees with pydicom on every real file."""

from __future__ import annotations

import pytest

import surgiplan.core.imaging.dicom_headers as headers
from surgiplan.core.errors import InputError
from tests.conftest import require_shared


def _files():
    for part in ("dicom", "ct"):
        root = require_shared(part)
        yield from (
            p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")
        )


def test_fast_and_pydicom_headers_agree(monkeypatch):
    fast_used = compared = 0
    for path in _files():
        if path.suffix in (".gz", ".json", ".md") or path.name == "DICOMDIR":
            continue
        try:
            fast, ds_fast = headers.read_frame_headers(path)
        except InputError as exc:
            with monkeypatch.context() as m:
                m.setattr(headers, "_FAST_CHUNK", 0)
                with pytest.raises(InputError) as err:
                    headers.read_frame_headers(path)
            assert err.value.message == exc.message
            continue
        fast_used += ds_fast is None
        with monkeypatch.context() as m:
            m.setattr(headers, "_FAST_CHUNK", 0)  # too short for the lean parser: pydicom reads
            slow, ds_slow = headers.read_frame_headers(path)
        assert ds_slow is not None or not slow
        assert fast == slow, path
        compared += 1
    assert compared > 400 and fast_used > 300
