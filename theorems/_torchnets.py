"""Torch helpers for the claims that optimize or differentiate (P4, P5, RN, BU): seeding, the periodic conv, the
norms (torch twins of :mod:`randnet.norms`, the BU normalizers included), the activations (each
:class:`randnet.Activation`'s own torch form), small conv nets with or without normalization, and a deterministic
full-batch trainer.

Inside torch, tensors are ``(N, C, H, W)`` float64 (exactness of the bounds matters more than speed);
randnet's arrays are ``(N, H, W, C)`` and are converted at the boundary (:func:`to_torch`).
Everything is seeded from a realization's ``SeedSequence`` (:func:`generator`) and runs on one CPU
thread (:func:`single_thread`), so a run is bit-for-bit reproducible.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from randnet import DatasetSpec, get_activation
from randnet.checks import check_int, check_number
from randnet.norms import centres_input
from randnet.torchnet import centre_input  # PreLN's input step on tensors (one home: the torch backend's)

DTYPE = torch.float64
NORMS = ("none", "in", "ln", "bn", "bmlv", "bmlv_c", "lmbv", "lmbv_c", "preln", "regnorm", "regnorm_ln")
OPTIMIZERS = ("adam", "gd")


def torch_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The torch twin of ``randnet.get_activation(name)`` (same formula: :meth:`randnet.Activation.torch_form`)."""
    return get_activation(name).torch_form()


def check_training_config(config, positive: tuple[str, ...]) -> None:
    """Validate a training configuration: ``dataset``, ``activation``, ``kernel_size``, ``lr`` and the integer
    fields named in ``positive``."""
    if not isinstance(config.dataset, DatasetSpec):
        raise ValueError(f"dataset must be a randnet.DatasetSpec, got {type(config.dataset).__name__}")
    for name in positive:
        check_int(name, getattr(config, name))
    get_activation(config.activation)
    check_odd_kernel(config.kernel_size)
    check_number("lr", config.lr, strict=True)


def check_odd_kernel(kernel_size) -> None:
    check_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a centred kernel), got {kernel_size!r}")


def generator(ss: np.random.SeedSequence) -> torch.Generator:
    """A torch generator seeded from ``ss`` (64 bits of its state)."""
    return torch.Generator().manual_seed(int(ss.generate_state(1, np.uint64)[0]))


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread (the machine is shared; results do not depend on it)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def to_torch(a: np.ndarray) -> torch.Tensor:
    """``(N, H, W, C)`` array -> ``(N, C, H, W)`` float64 tensor."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"expected an (N, H, W, C) array, got shape {a.shape}")
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def periodic_conv(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """SPEC Eq. 2 in torch: circular padding ``K // 2`` then ``conv2d`` (``w`` of shape ``(C_out, C_in, K, K)``)."""
    p = w.shape[-1] // 2
    return F.conv2d(F.pad(z, (p, p, p, p), mode="circular") if p else z, w)


def _moments(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    mu = x.mean(dim=dims, keepdim=True)
    return mu, ((x - mu) ** 2).mean(dim=dims, keepdim=True)


def normalize(x: torch.Tensor, kind: str, eps: float = 0.0) -> torch.Tensor:
    """randnet's normalization ``kind`` on ``x`` of shape ``(N, C, *spatial)`` (``(N, C)``: fully connected), the
    same formulas as :mod:`randnet.norms` with the batch axes ``(n, h, w)`` and the layer axes ``(c, h, w)``:
    ``in`` per input and channel, ``ln`` / ``regnorm_ln`` per input, ``bn`` per channel, ``bmlv[_c]``, ``lmbv[_c]``
    (mean of one, variance of the other; ``_c``: of the centred ``x − mean``), ``regnorm`` / ``preln``:
    ``x / sqrt(var_layer + ε)`` (PreLN's input centring is the layer op's, :func:`randnet.norms.centres_input`);
    ``none``: ``x``."""
    if kind not in NORMS:
        raise ValueError(f"unknown normalization {kind!r}; choose one of {', '.join(NORMS)}")
    if kind == "none":
        return x
    spatial = tuple(range(2, x.ndim))
    batch, layer = (0, *spatial), (1, *spatial)
    if kind in ("in", "ln", "regnorm_ln", "bn"):
        mu, var = _moments(x, {"in": spatial, "bn": batch}.get(kind, layer))
        return (x - mu) / torch.sqrt(var + eps)
    if kind in ("regnorm", "preln"):
        return x / torch.sqrt(_moments(x, layer)[1] + eps)
    mean_dims, var_dims = (batch, layer) if kind.startswith("bmlv") else (layer, batch)
    shifted = x - x.mean(dim=mean_dims, keepdim=True)
    return shifted / torch.sqrt(_moments(shifted if kind.endswith("_c") else x, var_dims)[1] + eps)


@dataclass
class ConvNet:
    """``L`` layers of Eqs. 16–17 (``norm = none``) or Eqs. 2–4 (a norm of :data:`NORMS`), as a function of its
    parameters (a norm that centres its input, PreLN, convolves ``z^{l−1} − mean_layer z^{l−1}``):

        x^l = ω^l ⊛ z^{l−1} (+ b^l without norm),   u^l = γ^l ⊙ norm(x^l) + β^l (u^l = x^l without norm),
        z^l = φ(u^l),   Φ(z⁰) = u^L.

    ``weights[l]`` has shape ``(C^l, C^{l−1}, K, K)``; ``shifts[l]`` is ``b^l`` (none) or ``β^l``;
    ``scales[l]`` is ``γ^l`` (empty without norm).
    """

    weights: list[torch.Tensor]
    shifts: list[torch.Tensor]
    scales: list[torch.Tensor]
    norm: str
    activation: str
    eps: float = 0.0

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.shifts, *self.scales]

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(Φ(z), [y^1, …, y^L])`` with ``y^l = norm(x^l)`` (``x^l`` without norm)."""
        act = torch_activation(self.activation)
        normalized = []
        centring = centres_input(self.norm)
        for l, w in enumerate(self.weights):
            y = normalize(periodic_conv(centre_input(z) if centring else z, w), self.norm, self.eps)
            normalized.append(y)
            u = (self.scales[l].view(1, -1, 1, 1) * y if self.scales else y) + self.shifts[l].view(1, -1, 1, 1)
            z = act(u)
        return u, normalized

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.forward(z)[0]


def conv_net(widths: tuple[int, ...], in_channels: int, kernel_size: int, norm: str, activation: str,
             gen: torch.Generator, eps: float = 0.0) -> ConvNet:
    """A trainable :class:`ConvNet` with ``C^l = widths[l−1]``: ``ω ~ N(0, 1/(K² C^{l−1}))``, ``b = β = 0``,
    ``γ = 1``."""
    if norm not in NORMS:
        raise ValueError(f"unknown normalization {norm!r}; choose one of {', '.join(NORMS)}")
    torch_activation(activation)
    check_odd_kernel(kernel_size)
    if not widths:
        raise ValueError("a ConvNet needs at least one layer (widths is empty)")
    weights, shifts, scales = [], [], []
    c_in = in_channels
    for c in widths:
        check_int("widths", c)
        w = torch.randn(c, c_in, kernel_size, kernel_size, generator=gen, dtype=DTYPE)
        w = w / math.sqrt(kernel_size ** 2 * c_in)
        weights.append(w.requires_grad_())
        shifts.append(torch.zeros(c, dtype=DTYPE, requires_grad=True))
        if norm != "none":
            scales.append(torch.ones(c, dtype=DTYPE, requires_grad=True))
        c_in = c
    return ConvNet(weights, shifts, scales, norm, activation, eps)


def checkpoints(steps: int, count: int) -> list[int]:
    """About ``count`` log-spaced iterates among ``0 … steps`` (both ends included), for training curves."""
    return sorted({int(s) - 1 for s in np.geomspace(1, steps + 1, count).round()})


def train(params: list[torch.Tensor], loss_fn: Callable[[], torch.Tensor], steps: int, lr: float,
          optimizer: str = "adam") -> np.ndarray:
    """Minimize ``loss_fn().sum()`` over ``params`` for ``steps`` full-batch steps, on one thread.

    ``loss_fn`` returns a tensor of loss terms (any shape); returns their values at every iterate
    ``θ_0 … θ_steps``, shape ``(steps + 1, *terms.shape)``. ``optimizer``: ``adam`` or plain ``gd``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if steps < 0 or not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"need steps >= 0 and a finite lr > 0, got steps={steps!r}, lr={lr!r}")
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
    history = []
    with single_thread():
        for _ in range(steps):
            terms = loss_fn()
            history.append(terms.detach().numpy().copy())
            opt.zero_grad()
            terms.sum().backward()
            opt.step()
        with torch.no_grad():
            history.append(loss_fn().detach().numpy().copy())
    return np.stack(history)
