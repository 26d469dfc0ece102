"""A user's own normalization, named ``"package.module:function"``.

The user writes ``function(x, config) -> y``: ``x`` is the conv output ``x^l`` of shape ``(N, H, W, C)``
(the net's dtype), ``config`` a :class:`NormSettings` (the net's ``groups``, ``eps``, ``batch_size``),
and ``y`` an array of the same shape. :func:`load_normalization` wraps it into the signature of
randnet's registry, ``fn(x, groups=None, eps=0.0, batch_size=None)``, checking the output at every
call; :func:`register_plugin` adds it to the registry under a name a :class:`~randnet.NetConfig` can use::

    name = register_plugin("randnet.examples.rms_norm:rms_norm")     # -> "rms_norm"
    NetConfig(norm=name)              # also "rms_norm+pn", "rms_norm+ws"

Every failure raises a :class:`PluginError` (a ``ValueError``) that names the reference and the problem.
"""
from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .norms import NORMALIZATIONS, NormFn, register_normalization

_REFERENCE = re.compile(r"(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
_LOADED: dict[str, tuple[str, NormFn]] = {}     # reference -> (registered name, wrapped function)


class PluginError(ValueError):
    """A user normalization that cannot be loaded or that returned a bad array."""


@dataclass(frozen=True)
class NormSettings:
    """What the normalization step of the net knows (the ``config`` passed to a user's function)."""

    groups: int | None = None
    eps: float = 0.0
    batch_size: int | None = None


def _import(reference: str) -> Callable:
    m = _REFERENCE.fullmatch(reference.strip()) if isinstance(reference, str) else None
    if m is None:
        raise PluginError(f"malformed normalization reference {reference!r}: write 'package.module:function'")
    module_name, attr = m.group("module"), m.group("attr")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise PluginError(f"{reference!r}: no module named {e.name!r} (is it installed or on PYTHONPATH?)") \
                from None
        raise PluginError(f"{reference!r}: importing module {module_name!r} failed: {e}") from e
    except Exception as e:  # the user's module raised while importing
        raise PluginError(f"{reference!r}: importing module {module_name!r} raised {type(e).__name__}: {e}") from e
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PluginError(f"{reference!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise PluginError(f"{reference!r}: {attr!r} is a {type(obj).__name__}, not a function")
    try:
        inspect.signature(obj).bind(np.empty((1, 1, 1, 1)), NormSettings())
    except TypeError:
        raise PluginError(f"{reference!r}: {attr}{inspect.signature(obj)} must accept two positional arguments "
                          "(x, config)") from None
    except ValueError:  # no signature available (some builtins): checked at call time instead
        pass
    return obj


def load_normalization(reference: str) -> NormFn:
    """The user's ``function(x, config)`` named by ``reference``, as ``fn(x, groups=None, eps=0.0, batch_size=None)``.

    Each call checks that the output is a real array of ``x``'s shape with finite values and returns it
    in ``x``'s dtype.
    """
    user = _import(reference)

    def normalization(x: np.ndarray, groups: int | None = None, eps: float = 0.0,
                      batch_size: int | None = None) -> np.ndarray:
        try:
            y = np.asarray(user(x, NormSettings(groups, eps, batch_size)))
        except PluginError:
            raise
        except Exception as e:
            raise PluginError(f"normalization {reference!r} raised {type(e).__name__}: {e}") from e
        if y.shape != x.shape:
            raise PluginError(f"normalization {reference!r} returned shape {y.shape} for input of shape {x.shape}; "
                              "it must return an array of the input's shape (N, H, W, C)")
        if y.dtype.kind not in "fiu" or y.dtype.kind == "b":
            raise PluginError(f"normalization {reference!r} returned dtype {y.dtype}; it must return real numbers")
        bad = ~np.isfinite(y)
        if bad.any():
            raise PluginError(f"normalization {reference!r} returned {int(bad.sum())} non-finite value(s) "
                              f"(NaN or inf) for an input of shape {x.shape}")
        return y.astype(x.dtype, copy=False)

    normalization.__name__ = normalization.__qualname__ = f"plugin[{reference}]"
    normalization.__doc__ = f"User normalization {reference!r} (checked wrapper)."
    return normalization


def register_plugin(reference: str, name: str | None = None) -> str:
    """Load ``reference`` and register it as normalization ``name`` (default: the function's name, lower case).

    Returns the name to use in ``NetConfig(norm=...)``. Registering the same reference again returns the
    same name (so it is safe to call in every worker process); a name already taken by another
    normalization is an error.
    """
    if reference in _LOADED and (name is None or name == _LOADED[reference][0]):
        return _LOADED[reference][0]
    fn = load_normalization(reference)
    name = (reference.rsplit(":", 1)[1].rsplit(".", 1)[-1] if name is None else name).lower()
    if name in NORMALIZATIONS:
        raise PluginError(f"cannot register {reference!r} as {name!r}: a normalization of that name exists; "
                          "pass another name")
    try:
        register_normalization(name, fn)
    except ValueError as e:
        raise PluginError(f"cannot register {reference!r}: {e}") from None
    _LOADED[reference] = (name, fn)
    return name
