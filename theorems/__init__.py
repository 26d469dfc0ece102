"""One module per claim of SPEC §4; importing this package registers them all in ``REGISTRY``."""
import importlib
import pkgutil

from .base import OUT_OF_SCOPE, REGISTRY, Claim, Comparison, Hypothesis, OutOfScope, register

for _m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _m.name != "base" and not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["OUT_OF_SCOPE", "REGISTRY", "Claim", "Comparison", "Hypothesis", "OutOfScope", "register"]
