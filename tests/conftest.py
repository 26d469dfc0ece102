"""Shared pytest configuration: one hypothesis profile for the property tests (no deadline: the first
call of a numba kernel compiles or loads its cache)."""
from hypothesis import settings

settings.register_profile("randnet", deadline=None, print_blob=True)
settings.load_profile("randnet")
