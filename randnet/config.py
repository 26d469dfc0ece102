"""A validated configuration of the random net of Definition 1 (SPEC §2).

:class:`NetConfig` is frozen and hashable; :meth:`NetConfig.describe` gives a JSON-able
dict and :meth:`NetConfig.assumptions` says which of Definition 1's assumptions hold.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .activations import get_activation
from .checks import check_int, check_number, is_int
from .datasets import BUILTIN, CIFAR10_BIN, CROP_LIMITS, SHAPE_FIELDS, check_crop, file_shape, is_array_file, \
    load_array, load_cifar10_bin, make_dataset, parse_source
from .distributions import Distribution, parse_distribution
from .norms import BATCH_NORMS, parse_norm
from .plugins import register_plugin, resolve_norm
from .proxy import METHODS as PROXY_METHODS

DTYPES = ("float32", "float64")
BACKENDS = ("numba", "torch")
# fields left out of describe() (hence of the store's digest) at these defaults, so that adding them changed no digest
UNDESCRIBED_DEFAULTS = {"backend": "numba", "device": "cpu"}
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")
MAX_DEPTH = 100_000
"""The deepest net a configuration may describe (it holds one width per layer)."""


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset ``name`` of ``n`` inputs ``(height, width, channels)``, or a ``path`` to a file.

    ``name="natural"``: random crops of the photographs in scikit-image's wheel
    (:func:`randnet.datasets.natural_crops`).
    ``name="cifar10-bin"`` with ``path`` a ``cifar-10-batches-bin`` folder or one ``.bin`` file: ``n`` of its records,
    cropped to ``height × width`` (at most 32×32; :func:`randnet.datasets.load_cifar10_bin`). Any other name with a
    ``path``: the ``(N, H, W, C)`` array of a ``.npy``/``.npz`` file (``key``: its array in an ``.npz``); then
    ``n, height, width, channels`` are the file's shape, read from its header when the spec is made (any values
    given are replaced: :func:`randnet.datasets.is_array_file`): what is used is what is recorded.
    ``redraw``: a random dataset is drawn anew in every realization (else once from ``seed``).
    """

    name: str = "gaussian"
    n: int = 32
    height: int = 16
    width: int = 16
    channels: int = 3
    path: str | None = None
    key: str | None = None
    redraw: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name == CIFAR10_BIN and self.path is None:
            raise ValueError(f"dataset {CIFAR10_BIN!r} needs a path: the cifar-10-batches-bin folder or one .bin file")
        if is_array_file(self.name, self.path):  # its shape is the file's
            for label, v in zip(SHAPE_FIELDS, file_shape(self.path, self.key)):
                object.__setattr__(self, label, v)
        else:
            if self.name not in BUILTIN + (CIFAR10_BIN,):
                raise ValueError(f"unknown dataset {self.name!r}; choose one of {', '.join(BUILTIN)} or give a file path")
            for label in SHAPE_FIELDS:
                check_int(f"dataset {label}", getattr(self, label))
            if self.name in CROP_LIMITS:
                check_crop(self.name, self.height, self.width, self.channels)

    def with_source(self, source: str, base_dir: str | Path | None = None, **changes) -> "DatasetSpec":
        """This dataset taken from ``source`` — a built-in name, ``cifar10-bin:PATH`` or a ``.npy``/``.npz`` path
        (relative to ``base_dir`` when given) — keeping ``n``, ``height``, ``width`` (``channels`` = 3 for the
        RGB sources) unless ``changes`` (fields) set them: the one rule from a dataset's text to its spec (the
        command line's ``--dataset``, a sweep's dataset values), the result checked once. An array file's spec
        takes ``n, height, width, channels`` from the file's header whatever ``changes`` say
        (:func:`validation.configs.ignored_shape_fields` names those a dataset value sets in vain)."""
        name, path = parse_source(source)
        if path is not None and base_dir is not None:
            path = str((Path(base_dir) / path).resolve())
        channels = 3 if name in CROP_LIMITS else self.channels
        if name is None:  # an array file: the name only says which built-in the spec held
            name = self.name if self.name in BUILTIN else DatasetSpec.name
        return dataclasses.replace(self, **{"name": name, "path": path, "key": None, "channels": channels, **changes})

    def draw(self, seed_sequence: np.random.SeedSequence | None = None) -> np.ndarray:
        """The dataset as float64 ``(N, H, W, C)``; random datasets use ``seed_sequence`` when ``redraw``."""
        if is_array_file(self.name, self.path):
            return load_array(self.path, self.key)
        ss = seed_sequence if (self.redraw and seed_sequence is not None) else np.random.SeedSequence(self.seed)
        rng = np.random.default_rng(ss)
        if self.name == CIFAR10_BIN:
            return load_cifar10_bin(self.path, self.n, self.height, self.width, self.channels, rng)
        return make_dataset(self.name, self.n, self.height, self.width, self.channels, rng)


@dataclass(frozen=True)
class NetConfig:
    """Everything that defines the random net of Definition 1 (defaults: scaled-down reference).

    widths        ``C^l`` for ``l = 1..depth`` (one int repeats it); ``depth`` the number of layers L
    kernel_size   odd K; ``first_stride`` 1, or 2 as in the paper's first conv
    norm          ``bn | ln | in | gn | none`` or one of SPEC-companions §7A's ``bmlv | bmlv_c | lmbv | lmbv_c |
                  preln | regnorm | regnorm_ln``, with optional ``+ws`` / ``+pn`` (e.g. ``ln+pn``), or a user's
                  normalization ``"package.module:function"`` (:mod:`randnet.plugins`; ``plugin`` keeps the
                  reference so that worker processes register it too)
    groups        G for ``gn`` (must divide every width)
    eps           ε of the normalization (and of PN unless ``pn_eps`` is set: :attr:`proxy_eps`)
    activation    φ; weight / gamma / beta: ``ν_ω, ν_γ, ν_β`` (``ω`` is scaled by ``1/sqrt(K² C^{l−1})``)
    batch_size    mini-batch size for the norms with batch statistics (``bn``, ``bmlv``, ``lmbv``…; None: full batch)
    proxy_method  ``exact`` (closed form / fine quadrature), ``hermite`` or ``quantile`` (the paper's grid);
                  ``proxy_nodes`` the nodes of the last two
    backend       where the forward pass runs: ``numba`` (numpy/numba on the CPU) or ``torch``
                  (:mod:`randnet.torchnet`; the same net from the same seeds, equal to round-off, not bit for bit);
                  ``device`` its torch device, ``cpu``, ``cuda`` or ``cuda:N`` (``numba``: ``cpu`` only; CUDA's
                  presence is checked when the forward pass starts, so a configuration can be built on a machine
                  without one). Both are in :meth:`describe` (unless at their defaults): results of one backend
                  or device never stand in for another's in a store
    """

    widths: tuple[int, ...] = (256,)
    depth: int = 10
    kernel_size: int = 3
    norm: str = "bn"
    groups: int | None = None
    eps: float = 0.0
    activation: str = "relu"
    weight: Distribution = field(default_factory=lambda: Distribution("truncated_normal", 2.0))
    gamma: Distribution = field(default_factory=lambda: Distribution("normal", 1.0, 0.2))
    beta: Distribution = field(default_factory=lambda: Distribution("normal", 0.0, 0.2))
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    dtype: str = "float32"
    batch_size: int | None = None
    first_stride: int = 1
    proxy_method: str = "exact"
    proxy_nodes: int | None = None
    pn_eps: float | None = None
    plugin: str | None = None
    backend: str = "numba"
    device: str = "cpu"

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass normalization)
        check_int("depth", self.depth)
        if self.depth > MAX_DEPTH:
            raise ValueError(f"depth must be at most {MAX_DEPTH:,}, got {self.depth:,}")
        widths = (self.widths,) if np.ndim(self.widths) == 0 else tuple(self.widths)
        if len(widths) == 1:
            widths = widths * int(self.depth)
        if len(widths) != self.depth:
            raise ValueError(f"got {len(widths)} widths for depth {self.depth}: give one width or one per layer")
        for c in widths:
            if not is_int(c):
                raise ValueError(f"widths must be positive integers, got {c!r}")
        set_("widths", tuple(int(c) for c in widths))
        if not is_int(self.kernel_size) or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {self.kernel_size!r}")
        norm, reference = resolve_norm(self.norm)  # a user's "package.module:function", optionally +ws / +pn
        if reference is not None:
            set_("plugin", reference)
        elif self.plugin is not None:
            register_plugin(self.plugin)
        base, _, pn = parse_norm(norm)
        set_("norm", norm.lower())
        if base == "gn":
            if not is_int(self.groups):
                raise ValueError(f"norm 'gn' needs a positive integer number of groups, got {self.groups!r}")
            bad = [c for c in self.widths if c % self.groups]
            if bad:
                raise ValueError(f"groups={self.groups} does not divide width(s) {sorted(set(bad))}")
        check_number("eps", self.eps)
        if self.pn_eps is not None:
            check_number("pn_eps", self.pn_eps)
        get_activation(self.activation)
        for name in ("weight", "gamma", "beta"):
            set_(name, parse_distribution(getattr(self, name)))
        if str(self.dtype) not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        set_("dtype", str(self.dtype))
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size)
            if base not in BATCH_NORMS:
                raise ValueError(f"batch_size applies to the norms with batch statistics ({', '.join(BATCH_NORMS)}) "
                                 f"only, not to norm {self.norm!r}")
        if self.first_stride not in (1, 2):
            raise ValueError(f"first_stride must be 1 or 2, got {self.first_stride!r}")
        if self.proxy_method not in PROXY_METHODS:
            raise ValueError(f"proxy_method must be one of {PROXY_METHODS}, got {self.proxy_method!r}")
        if self.proxy_nodes is not None:
            check_int("proxy_nodes", self.proxy_nodes)
        if not isinstance(self.dataset, DatasetSpec):
            raise ValueError("dataset must be a DatasetSpec")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if not (isinstance(self.device, str) and _DEVICE.fullmatch(self.device)):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.backend == "numba" and self.device != "cpu":
            raise ValueError(f"device {self.device!r} needs backend='torch' (the numba backend runs on the CPU)")
        self._check_slices(base)

    def _check_slices(self, base: str) -> None:
        """Refuse a built-in norm whose statistics at ε = 0 would run over one value (zero variance, a zero
        denominator in every realization): e.g. ``in`` on 1×1 maps."""
        if self.eps > 0 or base not in ("bn", "in", "gn"):
            return
        h, w = self.dataset.height, self.dataset.width
        if self.first_stride == 2:
            h, w = -(-h // 2), -(-w // 2)
        pixels = h * w
        per_group = min(self.widths) // (self.groups or 1)
        b = min(self.batch_size or self.dataset.n, self.dataset.n)
        batch = self.dataset.n % b or b  # the smallest mini-batch (the last one)
        count = {"in": pixels, "gn": pixels * per_group, "bn": pixels * batch}[base]
        if count < 2:
            what = {"in": f"one channel of one input's {h}×{w} map",
                    "gn": f"one group of {per_group} channel of one input's {h}×{w} map",
                    "bn": f"one channel of {batch} input's {h}×{w} map"}[base]
            raise ValueError(f"norm {self.norm!r} takes each statistic over {what}: a single value, of variance zero, "
                             "so its denominator is zero with ε = 0 — use maps of at least 2 pixels (--size >= 2) or "
                             "ε > 0 (--eps)")

    # -- derived -------------------------------------------------------------------
    @property
    def width(self) -> int:
        """The common width (the last layer's when they differ)."""
        return self.widths[-1]

    def __setstate__(self, state: dict) -> None:
        """Unpickling (e.g. in a worker process) registers a user's normalization there too."""
        self.__dict__.update(state)
        if self.plugin is not None:
            register_plugin(self.plugin)

    @property
    def base_norm(self) -> str:
        return parse_norm(self.norm)[0]

    @property
    def weight_standardized(self) -> bool:
        return parse_norm(self.norm)[1]

    @property
    def proxy_norm(self) -> bool:
        return parse_norm(self.norm)[2]

    @property
    def proxy_eps(self) -> float:
        """ε of PN's Eq. 7: ``pn_eps`` when set, else the normalization's ``eps``."""
        return self.eps if self.pn_eps is None else self.pn_eps

    @property
    def np_dtype(self):
        return np.dtype(self.dtype)

    @property
    def rho(self) -> float:
        """ρ = ‖ν_γ‖₂² / (‖ν_γ‖₂² + ‖ν_β‖₂²) (Theorem 1)."""
        g, b = self.gamma.mean_square, self.beta.mean_square
        return g / (g + b) if g + b > 0 else float("nan")

    def assumptions(self) -> dict[str, tuple[bool, str]]:
        """Definition 1's assumptions (ii), (iii) on the distributions: name -> (met, explanation).

        Assumption (i), no input identically zero, depends on the drawn data: see
        :func:`randnet.net.data_assumption`.
        """
        out = {}
        for name in ("weight", "gamma", "beta"):
            d = getattr(self, name)
            out[f"(ii) ‖ν_{name}‖₂ > 0"] = (d.rms > 0, f"{name} ~ {d} has RMS {d.rms:g}")
        for name in ("weight", "beta"):
            d = getattr(self, name)
            out[f"(iii) ν_{name} symmetric"] = (d.symmetric, f"{name} ~ {d} is {'' if d.symmetric else 'not '}symmetric about 0")
        return out

    def broken_assumptions(self) -> list[str]:
        return [f"{k}: {why}" for k, (ok, why) in self.assumptions().items() if not ok]

    def describe(self) -> dict:
        d = dataclasses.asdict(self)
        for name in ("weight", "gamma", "beta"):
            d[name] = str(getattr(self, name))
        if len(set(self.widths)) == 1:
            d["widths"] = self.widths[0]
        for name, default in UNDESCRIBED_DEFAULTS.items():
            if d[name] == default:
                del d[name]
        return d

    def label(self) -> str:
        where = f" [{self.backend} {self.device}]" if self.backend != "numba" else ""
        return f"{self.norm} C={self.width} L={self.depth} {self.activation}{where}"

    def replace(self, **changes) -> "NetConfig":
        """``dataclasses.replace``, keeping what the changes leave meaningful: a new ``depth`` keeps a common
        width, and a new ``norm`` without batch statistics (not in :data:`randnet.norms.BATCH_NORMS`) drops
        ``batch_size`` (the mini-batch setting)."""
        if "depth" in changes and "widths" not in changes and len(set(self.widths)) == 1:
            changes["widths"] = self.widths[0]
        if "norm" in changes and "batch_size" not in changes:
            norm = str(changes["norm"])
            if ":" in norm or parse_norm(norm)[0] not in BATCH_NORMS:
                changes["batch_size"] = None
        return dataclasses.replace(self, **changes)


def reference_config(width: int = 1024, depth: int = 50, norm: str = "bn", n: int = 128, **changes) -> NetConfig:
    """The paper's reference configuration (Fig. 2 top row, Fig. 5), on the synthetic dataset."""
    return NetConfig(widths=width, depth=depth, norm=norm, dataset=DatasetSpec(n=n, height=16, width=16, channels=3),
                     **changes)
