"""Fixtures: every small sample generated once per session into a temporary folder."""

from __future__ import annotations

import pytest

from surgiplan.core.samples import SAMPLE_NAMES, generate_sample


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("samples")


_CACHE: dict = {}


@pytest.fixture(scope="session", params=SAMPLE_NAMES)
def sample(request, samples_dir):
    """(name, SamplePaths) of a freshly generated small sample."""
    name = request.param
    if name not in _CACHE:
        _CACHE[name] = generate_sample(name, samples_dir, "small")
    return name, _CACHE[name]


@pytest.fixture(scope="session")
def small_sample(samples_dir):
    """A function name -> SamplePaths of the small sample generated once per session."""

    def get(name: str):
        if name not in _CACHE:
            _CACHE[name] = generate_sample(name, samples_dir, "small")
        return _CACHE[name]

    return get
