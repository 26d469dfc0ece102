"""Parameter distributions ν_ω, ν_γ, ν_β of Definition 1.

Each distribution knows its root mean square ``‖ν‖₂ = sqrt(E[v²])`` and whether it is
symmetric about zero — the two properties the assumptions (ii)–(iii) are about.
A distribution is written as a string such as ``normal(1, 0.2)``, ``truncated_normal(2)``,
``uniform(-1, 1)``, ``rademacher(0.5)`` or ``constant(0)``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from .checks import is_number

KINDS = ("normal", "truncated_normal", "uniform", "rademacher", "constant")


@dataclass(frozen=True)
class Distribution:
    """A scalar distribution with known moments.

    normal(mean, std); truncated_normal(bound): N(0,1) truncated to ±bound std and rescaled
    to unit RMS; uniform(low, high); rademacher(scale): ±scale; constant(value).
    """

    kind: str
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown distribution {self.kind!r}; choose one of {', '.join(KINDS)}")
        for name, v in (("first", self.a), ("second", self.b)):
            if not is_number(v):
                raise ValueError(f"{self.kind}: {name} parameter must be a finite number, got {v!r}")
        if self.kind == "normal" and self.b < 0:
            raise ValueError(f"normal: std must be >= 0, got {self.b}")
        if self.kind == "truncated_normal" and self.a <= 0:
            raise ValueError(f"truncated_normal: bound must be > 0, got {self.a}")
        if self.kind == "uniform" and not self.a < self.b:
            raise ValueError(f"uniform: need low < high, got ({self.a}, {self.b})")

    # -- moments -------------------------------------------------------------------
    @property
    def mean(self) -> float:
        return {"normal": self.a, "truncated_normal": 0.0, "uniform": (self.a + self.b) / 2,
                "rademacher": 0.0, "constant": self.a}[self.kind]

    @property
    def mean_square(self) -> float:
        """E[v²] = ‖ν‖₂²."""
        k = self.kind
        if k == "normal":
            return self.a ** 2 + self.b ** 2
        if k == "truncated_normal":
            return 1.0
        if k == "uniform":
            return (self.a ** 2 + self.a * self.b + self.b ** 2) / 3
        return self.a ** 2  # rademacher, constant

    @property
    def rms(self) -> float:
        return math.sqrt(self.mean_square)

    @property
    def symmetric(self) -> bool:
        """Symmetric about zero."""
        k = self.kind
        if k == "normal":
            return self.a == 0.0
        if k == "uniform":
            return self.a == -self.b
        if k == "constant":
            return self.a == 0.0
        return True

    # -- sampling ------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
        k = self.kind
        if k == "normal":
            v = rng.normal(self.a, self.b, shape) if self.b > 0 else np.full(shape, self.a)
        elif k == "truncated_normal":  # inverse CDF: Φ⁻¹(U), U ~ U(Φ(−a), Φ(a)), rescaled to unit RMS
            lo = special.ndtr(-self.a)
            v = special.ndtri(rng.uniform(lo, 1.0 - lo, shape)) / math.sqrt(stats.truncnorm(-self.a, self.a).var())
        elif k == "uniform":
            v = rng.uniform(self.a, self.b, shape)
        elif k == "rademacher":
            v = self.a * (2.0 * rng.integers(0, 2, shape) - 1.0)
        else:
            v = np.full(shape, self.a)
        return np.asarray(v, dtype=dtype)

    def __str__(self) -> str:
        if self.kind == "truncated_normal":
            return f"truncated_normal({self.a:g})"
        if self.kind in ("rademacher", "constant"):
            return f"{self.kind}({self.a:g})"
        return f"{self.kind}({self.a:g}, {self.b:g})"


_ARITY = {"normal": 2, "truncated_normal": (0, 1), "uniform": 2, "rademacher": (0, 1), "constant": 1}
_DEFAULT_ONE = {"truncated_normal": 2.0, "rademacher": 1.0}


def parse_distribution(text: str | Distribution) -> Distribution:
    """Parse ``"normal(1, 0.2)"``-style text into a :class:`Distribution`."""
    if isinstance(text, Distribution):
        return text
    m = re.fullmatch(r"\s*([a-z_]+)\s*(?:\((.*)\))?\s*", str(text))
    if not m:
        raise ValueError(f"cannot read distribution {text!r}; write e.g. 'normal(1, 0.2)'")
    kind, args = m.group(1), m.group(2)
    if kind not in KINDS:
        raise ValueError(f"unknown distribution {kind!r} in {text!r}; choose one of {', '.join(KINDS)}")
    try:
        values = [float(s) for s in args.split(",")] if args and args.strip() else []
    except ValueError:
        raise ValueError(f"distribution {text!r}: parameters must be numbers") from None
    arity = _ARITY[kind]
    allowed = arity if isinstance(arity, tuple) else (arity,)
    if len(values) not in allowed:
        raise ValueError(f"distribution {kind} takes {' or '.join(map(str, allowed))} parameter(s), got {len(values)} in {text!r}")
    if not values:
        values = [_DEFAULT_ONE[kind]]
    return Distribution(kind, *values)
