"""Shared pytest configuration: one hypothesis profile for the property tests (no deadline: the first
call of a numba kernel compiles or loads its cache)."""
import pytest
from hypothesis import settings

from randnet import norms, plugins

settings.register_profile("randnet", deadline=None, print_blob=True)
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
