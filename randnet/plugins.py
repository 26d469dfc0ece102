"""A user's own normalization, named ``"package.module:function"``.

The user writes ``function(x, config) -> y``: ``x`` is the conv output ``x^l`` of shape ``(N, H, W, C)``
(the net's dtype), ``config`` a :class:`NormSettings` (the net's ``groups``, ``eps``, ``batch_size``),
and ``y`` an array of the same shape. :func:`load_normalization` wraps it into the signature of
randnet's registry, ``fn(x, groups=None, eps=0.0, batch_size=None)``, checking the output at every
call; :func:`register_plugin` adds it to the registry under a name a :class:`~randnet.NetConfig` can use::

    name = register_plugin("randnet.examples.rms_norm:rms_norm")     # -> "rms_norm"
    NetConfig(norm=name)              # also "rms_norm+pn", "rms_norm+ws"

Every failure raises a :class:`PluginError` (a ``ValueError``) that names the reference and the problem — also a
``sys.exit()`` or a ``KeyboardInterrupt`` raised by the user's code (a real Ctrl-C still stops the program:
:func:`_guarded`). :func:`source_files` names the files that define a plugin (the results store hashes them).
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .norms import NORMALIZATIONS, NormFn, register_normalization

_REFERENCE = re.compile(r"(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
_LOADED: dict[str, tuple[str, NormFn, dict]] = {}  # reference -> (registered name, wrapped function, source stamps)


class PluginError(ValueError):
    """A user normalization that cannot be loaded or that returned a bad array."""


@dataclass(frozen=True)
class NormSettings:
    """What the normalization step of the net knows (the ``config`` passed to a user's function)."""

    groups: int | None = None
    eps: float = 0.0
    batch_size: int | None = None


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))
"""Signals whose Python handlers may raise ``KeyboardInterrupt`` (Ctrl-C; a program's own SIGTERM handler)."""


@contextlib.contextmanager
def _guarded(reference: str, what: str) -> Iterator[None]:
    """Run the user's code (``what``: "importing module m", "the normalization") turning a ``SystemExit`` it
    raises, and a ``KeyboardInterrupt`` it raises itself, into a :class:`PluginError`.

    A real Ctrl-C (SIGINT, or a SIGTERM whose handler raises ``KeyboardInterrupt``) arriving meanwhile must still
    stop the program: in the main thread a wrapper of each such Python handler records the signal for the
    duration of the call (then calls the handler, which raises as before), and only an interrupt without a
    signal is the plugin's own. Outside the main thread Python runs no signal handler, so there any
    ``KeyboardInterrupt`` comes from the plugin.
    """
    received: list[int] = []
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):  # SIG_IGN / SIG_DFL never raise here
                def record(sig, frame, handler=handler):
                    received.append(sig)
                    handler(sig, frame)
                saved[signum] = handler
                signal.signal(signum, record)
    try:
        yield
    except SystemExit as e:
        raise PluginError(f"{reference!r}: {what} called sys.exit({e.code!r})") from None
    except KeyboardInterrupt:
        if received:
            raise
        raise PluginError(f"{reference!r}: {what} raised KeyboardInterrupt (not a Ctrl-C)") from None
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _import(reference: str) -> Callable:
    m = _REFERENCE.fullmatch(reference.strip()) if isinstance(reference, str) else None
    if m is None:
        raise PluginError(f"malformed normalization reference {reference!r}: write 'package.module:function'")
    module_name, attr = m.group("module"), m.group("attr")
    try:
        with _guarded(reference, f"importing module {module_name!r}"):
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise PluginError(f"{reference!r}: no module named {e.name!r} (is it installed or on PYTHONPATH?)") \
                from None
        raise PluginError(f"{reference!r}: importing module {module_name!r} failed: {e}") from e
    except PluginError:
        raise
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
            with _guarded(reference, "the normalization"):
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
    _LOADED[reference] = (name, fn, {path: _stamp(path) for path in _files(reference)})
    return name


def _files(reference: str) -> list[Path]:
    """The files that define the (importable) plugin ``reference``: its module's file and, when the function is
    defined elsewhere (imported into the module), that file too."""
    user = _import(reference)
    module = sys.modules[_REFERENCE.fullmatch(reference.strip()).group("module")]
    files = [getattr(module, "__file__", None)]
    try:
        files.append(inspect.getsourcefile(inspect.unwrap(user)))
    except TypeError:  # a builtin or a C extension's function: no source file
        pass
    return [Path(f).resolve() for f in dict.fromkeys(files) if f]


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def source_files(reference: str) -> list[Path]:
    """The source files that define the plugin ``reference`` (what a realization computed with it depends on).

    For a plugin registered in this process, a :class:`PluginError` if a file changed on disk since it was
    imported: this process would still run the old code under a key made from the new one.
    """
    if reference not in _LOADED:
        return _files(reference)
    stamps = _LOADED[reference][2]
    for path, stamp in stamps.items():
        if not path.exists() or _stamp(path) != stamp:
            raise PluginError(f"{reference!r}: {path} changed on disk after this process imported it, so it would "
                              "still run the old code: start a new process")
    return list(stamps)


def registered() -> tuple[str, ...]:
    """The references registered in this process (:func:`register_plugin`)."""
    return tuple(_LOADED)


def resolve_norm(spec: str) -> tuple[str, str | None]:
    """A norm as :class:`~randnet.NetConfig` takes it — built in (``ln``, ``gn+pn``) or a user's
    ``package.module:function`` with optional ``+ws`` / ``+pn`` — as ``(spec with the plugin's registered name,
    the plugin's reference or None)``, registering the plugin now (its import and signature are checked)."""
    text = str(spec)
    if ":" not in text:
        return text, None
    reference, plus, mods = text.partition("+")
    reference = reference.strip()
    return register_plugin(reference) + plus + mods, reference
