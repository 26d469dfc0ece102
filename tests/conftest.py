"""Shared pytest configuration: one hypothesis profile for the property tests (no deadline: the first
call of a numba kernel compiles or loads its cache; derandomized, so that a run is reproducible)."""
import itertools
import textwrap

import pytest
from hypothesis import settings

from randnet import norms, plugins

settings.register_profile("randnet", deadline=None, print_blob=True, derandomize=True)
settings.load_profile("randnet")


@pytest.fixture
def clean_plugin_registry():
    """Registering user normalizations in a test must not leak into other tests."""
    saved, loaded = dict(norms.NORMALIZATIONS), dict(plugins._LOADED)
    yield
    norms.NORMALIZATIONS.clear()
    norms.NORMALIZATIONS.update(saved)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)


_module_names = itertools.count()


@pytest.fixture
def write_module(tmp_path, monkeypatch):
    """``write_module(source, prefix)``: a module with ``source`` under a fresh name on ``sys.path``; returns its name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str, prefix: str = "user_module") -> str:
        name = f"{prefix}_{next(_module_names)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write
