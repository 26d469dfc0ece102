"""Argument checks shared by randnet, theorems and validation: one rule, one wording.

An *integer* here is a Python or numpy integer that is not a ``bool`` (``True`` is an ``int`` to Python,
never a count to us); a *number* a real Python or numpy number, again not a ``bool``.
"""
from __future__ import annotations

import math

import numpy as np


def is_int(value, minimum: int | None = 1) -> bool:
    """``value`` is an integer (not a bool) ``>= minimum`` (any integer when ``minimum`` is None)."""
    return (not isinstance(value, bool) and isinstance(value, (int, np.integer))
            and (minimum is None or value >= minimum))


def int_words(minimum: int = 1) -> str:
    """How the messages name an integer ``>= minimum``: "a positive integer", "a non-negative integer", or
    "an integer >= m"."""
    return {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")


def check_int(name: str, value, minimum: int = 1) -> None:
    """A ``ValueError`` ``"{name} must be {int_words(minimum)}, got {value!r}"`` unless :func:`is_int`."""
    if not is_int(value, minimum):
        raise ValueError(f"{name} must be {int_words(minimum)}, got {value!r}")


def is_number(value, minimum: float = -math.inf, strict: bool = False) -> bool:
    """``value`` is a finite real number (not a bool) ``>= minimum`` (``> minimum`` when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(value) and (value > minimum if strict else value >= minimum)


def check_number(name: str, value, minimum: float = 0.0, strict: bool = False) -> None:
    """A ``ValueError`` ``"{name} must be a finite number >= m"`` (``> m`` when ``strict``) unless
    :func:`is_number`."""
    if not is_number(value, minimum, strict):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum:g}, got {value!r}")
