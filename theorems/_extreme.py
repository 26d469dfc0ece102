"""Extreme Normalization (SPEC-companions §7B): the layer of Algorithm 1, its gradient estimators E0–E6, the
inference fold, and the metrics of the estimators' bias (a leading underscore: shared code, not a claim).

Conventions (SPEC §2, as ``randnet.periodic_conv``): tensors ``(N, H, W, C)``, kernels ``w`` of shape
``(K, K, C_in, C_out)``, cross-correlation, stride 1, padding ``K // 2`` — circular by default, zeros for the
negative controls. Float64 throughout; every realization runs on one torch thread (``_torchnets.single_thread``)
and is seeded from its ``SeedSequence``.

Population (full-data) normalization, one layer (§7B.2; ``𝐖 = Σ_ij W_ij``, ``C_in × C_out``)::

    μ = E_n E_ij x_n      p_n = conv(x_n, W) − μ·𝐖      ν = E_n E_ij p_n² + ε      q_n = p_n / sqrt(ν)
    z_n = φ((γ ⊙ q_n) R + β)

The channel vector at each pixel is a row, so "R·v" of §7B is ``v @ R`` — the convention that Alg. 1's fold
``K = (W ⊙ γ/sqrt(ν̄)) R`` fixes. The net is ``L`` such layers, global average pooling, a linear read-out and
cross-entropy; ``ℓ = E_n ℓ_n`` and ``G* = ∇_θ ℓ`` with the gradient through ``μ, ν`` of all ``N`` examples (E0).

``ScaleGrad(S, Q, r) = sg(r)·Q + sg(S − r·Q)``: forward ``S``, backward ``r·upstream`` into ``Q``, nothing into ``S``.
Per-example (†) and batch (‡) nodes, with EMAs ``μ̄, ν̄`` (here *oracle* EMAs: the exact population statistics
at the current θ, :func:`oracle_ema`)::

    μ_b† = ScaleGrad(μ̄, E_ij x_b, r_m)                 ν_b† = ScaleGrad(ν̄, ν_b, r_v·min(ν̄/ν_b, f_max))
    μ‡   = ScaleGrad(μ̄, E_b E_ij x_b, r_m)             ν‡   = ScaleGrad(ν̄, E_b ν_b, r_v·min(ν̄/E_b ν_b, f_max))
    p_b  = conv(x_b, W) − μ_b†·𝐖     ν_b = E_ij p_b² + ε     clip_b = sg(min(1, u_max·sqrt(ν̄/ν_b)))
    q_b  = p_b / sqrt(ν_b†) · clip_b  (tower 1)         q'_b = (conv(x'_b, W) − μ‡·𝐖) / sqrt(ν‡) · clip_b  (tower 2)

Estimators on a minibatch ``S`` (:data:`ESTIMATORS`): E0 ``G*``; E1 minibatch BN (the population formulas on
``S``); E2 batch renormalization, unclipped; E3 ‡ at every layer (inside ``p`` too); E4 † only (per example);
E5 two towers (tower 1 †, tower 2 normalized by tower 1's ‡, loss from tower 2); E5' the same with tower 1 on
another minibatch; E6 stop-gradient (E4 with ``r_m = r_v = 0``; E3 and E5 then give the same). All but E1 have
the population forward values.

Many minibatches at once: every forward takes index arrays ``(M, B)`` — ``M`` minibatches of ``B`` examples —
and θ with a leading axis of ``M`` independent copies (:meth:`Theta.copies`), so one backward pass gives the
``M`` estimates (the convolution is grouped over the copies). ``M = 1`` is the single estimate.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from randnet import DatasetSpec, child
from randnet.checks import check_int, check_number, is_number
from theorems import _torchnets as tn
from theorems.base import Comparison

DTYPE = tn.DTYPE
PADDINGS = ("circular", "zero")
ROTATIONS = ("identity", "hadamard", "haar")
ESTIMATORS = ("E0", "E1", "E2", "E3", "E4", "E5", "E5'", "E6")
ESTIMATOR_NAMES = {"E0": "G* (population)", "E1": "minibatch BN", "E2": "batch renorm", "E3": "‡ (improved BRN)",
                   "E4": "per-example (†)", "E5": "two-stage", "E5'": "two-stage, split minibatches",
                   "E6": "stop-gradient"}
TOL = 1e-12
"""Relative round-off tolerance of the exact identities in float64 (§7B.3)."""
CHUNK_ELEMENTS = 1 << 20
"""Activation entries (``M·B·H·W·C``) per forward pass of :func:`estimates`: bounds the memory autograd keeps."""


def jsonable(d: dict) -> dict:
    """``describe()`` values made JSON-safe: non-finite floats as strings (``inf``), tuples as lists."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = jsonable(v)
        elif isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    return out


# -- the conventions ------------------------------------------------------------------------------------
def _check_padding(padding: str) -> None:
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)}")


def conv(x: torch.Tensor, w: torch.Tensor, padding: str = "circular") -> torch.Tensor:
    """``conv(x, W)[n,h,w,o] = Σ_{i,j,c} W[i,j,c,o] x[n, h+i−p, w+j−p, c]``, ``p = K // 2``: indices mod ``H, W``
    (``circular``, ``_torchnets.periodic_conv``) or out-of-range taps zero (``zero``). ``x`` ``(N, H, W, C_in)``,
    ``w`` ``(K, K, C_in, C_out)``."""
    _check_padding(padding)
    xt, wt = x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1)
    out = tn.periodic_conv(xt, wt) if padding == "circular" else F.conv2d(xt, wt, padding=w.shape[0] // 2)
    return out.permute(0, 2, 3, 1)


def conv_copies(x: torch.Tensor, w: torch.Tensor, padding: str = "circular") -> torch.Tensor:
    """:func:`conv` of ``M`` copies at once: ``x`` ``(M, B, H, W, C_in)`` with ``w`` ``(M, K, K, C_in, C_out)``,
    copy ``m`` of ``x`` with copy ``m`` of ``w`` -> ``(M, B, H, W, C_out)``. For ``M > 1``: the ``K²`` shifted views
    of the padded input side by side, times ``W`` as a ``(K² C_in) × C_out`` matrix — one batched GEMM over the
    copies (a grouped ``conv2d`` loops over them); ``M = 1``: :func:`conv`."""
    _check_padding(padding)
    m, b, h, wd, c_in = x.shape
    if m == 1:
        return conv(x[0], w[0], padding)[None]
    k, c_out = w.shape[1], w.shape[-1]
    p = k // 2
    if p and padding == "circular":
        x = torch.cat([x[:, :, h - p:], x, x[:, :, :p]], dim=2)
        x = torch.cat([x[:, :, :, wd - p:], x, x[:, :, :, :p]], dim=3)
    elif p:
        x = F.pad(x, (0, 0, p, p, p, p))
    patches = torch.stack([x[:, :, i:i + h, j:j + wd] for i in range(k) for j in range(k)], dim=4)
    out = patches.reshape(m, b * h * wd, k * k * c_in) @ w.reshape(m, k * k * c_in, c_out)
    return out.reshape(m, b, h, wd, c_out)


def kernel_sum(w: torch.Tensor) -> torch.Tensor:
    """``𝐖 = Σ_{i,j} W_{i,j,·,·}`` (``C_in × C_out``; with a leading copy axis, per copy)."""
    return w.sum(dim=(-4, -3))


def border_mask(height: int, width: int, kernel_size: int) -> np.ndarray:
    """``(H, W)`` booleans: pixels within ``K // 2`` of an edge (where zero padding changes a conv)."""
    p = kernel_size // 2
    mask = np.zeros((height, width), dtype=bool)
    if p:
        mask[:p], mask[-p:], mask[:, :p], mask[:, -p:] = True, True, True, True
    return mask


def scale_grad(s, q: torch.Tensor, r) -> torch.Tensor:
    """``ScaleGrad(S, Q, r) = sg(r)·Q + sg(S − r·Q)``: forward ``S`` (up to one rounding), ``∂/∂Q = r``,
    ``∂/∂S = 0``."""
    r = r.detach() if isinstance(r, torch.Tensor) else r
    rq = r * q
    return rq + (s - rq).detach()


@dataclass(frozen=True)
class Modifiers:
    """The modifiers of §7B.2: shrinkage ``r_m, r_v``; ν-gradient scaling ``min(ν̄/ν, f_max)`` (``nu_scaling``
    off: factor 1); the activation clip ``u_max`` (``inf``: inactive)."""

    r_m: float = 1.0
    r_v: float = 1.0
    f_max: float = 2.0
    nu_scaling: bool = True
    u_max: float = math.inf

    def __post_init__(self) -> None:
        for name in ("r_m", "r_v"):
            check_number(name, getattr(self, name))
        for name in ("f_max", "u_max"):  # inf allowed: no cap, no clip
            v = getattr(self, name)
            if not (v == math.inf or is_number(v, 0.0, strict=True)):
                raise ValueError(f"{name} must be a number > 0 (inf allowed), got {v!r}")

    def nu_factor(self, nu_bar: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
        """``r_v · min(ν̄/ν, f_max)`` (``r_v`` without ν-scaling), as a constant."""
        f = torch.clamp(nu_bar / nu, max=self.f_max) if self.nu_scaling else torch.ones_like(nu)
        return (self.r_v * f).detach()

    def clip(self, nu_bar: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
        """``sg(min(1, u_max · sqrt(ν̄/ν)))``."""
        return torch.clamp(self.u_max * torch.sqrt(nu_bar / nu), max=1.0).detach()

    def label(self) -> str:
        parts = [] if self.nu_scaling else ["no ν-scaling"]
        if self.nu_scaling and self.f_max != 2.0:
            parts.append(f"f_max {self.f_max:g}")
        if (self.r_m, self.r_v) != (1.0, 1.0):
            parts.append(f"r_m {self.r_m:g}, r_v {self.r_v:g}")
        if math.isfinite(self.u_max):
            parts.append(f"u_max {self.u_max:g}")
        return ", ".join(parts) or "base"

    def describe(self) -> dict:
        return jsonable(asdict(self))


STOP_GRADIENT = dict(r_m=0.0, r_v=0.0)


# -- rotations ------------------------------------------------------------------------------------------
def hadamard(c: int) -> torch.Tensor:
    """The normalized Sylvester–Hadamard matrix ``H_C / sqrt(C)`` (``C`` a power of 2;
    ``H_{2k} = [[H, H], [H, −H]]``)."""
    check_int("C", c)
    if c & (c - 1):
        raise ValueError(f"a Sylvester–Hadamard matrix needs C a power of 2, got C = {c}")
    h = torch.ones(1, 1, dtype=DTYPE)
    while h.shape[0] < c:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(c)


def haar(c: int, gen: torch.Generator) -> torch.Tensor:
    """A Haar-distributed orthogonal ``C × C`` matrix: ``Q·diag(sign(diag R))`` of the QR of a Gaussian matrix."""
    q, r = torch.linalg.qr(torch.randn(c, c, generator=gen, dtype=DTYPE))
    return q * torch.sign(torch.diagonal(r))


def rotation(kind: str, c: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """``R`` of §7B.2: ``identity``, ``hadamard`` or ``haar`` (drawn from ``gen``)."""
    if kind not in ROTATIONS:
        raise ValueError(f"unknown rotation {kind!r}; choose one of {', '.join(ROTATIONS)}")
    if kind == "identity":
        return torch.eye(c, dtype=DTYPE)
    if kind == "hadamard":
        return hadamard(c)
    if gen is None:
        raise ValueError("a Haar rotation needs a generator")
    return haar(c, gen)


# -- the net and one realization -------------------------------------------------------------------------
@dataclass(frozen=True)
class ENNet:
    """``depth`` layers of Alg. 1 (``width`` channels, ``K × K`` conv with ``padding``, ``activation``, ``ε``,
    rotation ``R``), GAP, a linear read-out to ``classes`` logits, cross-entropy on uniform random labels.
    Parameters: ``W ~ N(0, 1/(K² C_in))``, ``γ ~ N(1, gamma_std²)``, ``β ~ N(0, beta_std²)``, read-out
    ``V ~ N(0, 1/C)``, bias 0. The dataset (randnet's built-ins) is redrawn in every realization."""

    dataset: DatasetSpec = field(default_factory=lambda: DatasetSpec(n=32, height=8, width=8, channels=3))
    depth: int = 3
    width: int = 16
    kernel_size: int = 3
    padding: str = "circular"
    activation: str = "relu"
    eps: float = 1e-5
    rotation: str = "identity"
    classes: int = 10
    gamma_std: float = 0.2
    beta_std: float = 0.2

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, DatasetSpec):
            raise ValueError(f"dataset must be a randnet.DatasetSpec, got {type(self.dataset).__name__}")
        for name in ("depth", "width", "classes"):
            check_int(name, getattr(self, name))
        tn.check_odd_kernel(self.kernel_size)
        tn.torch_activation(self.activation)
        _check_padding(self.padding)
        if self.rotation not in ROTATIONS:
            raise ValueError(f"unknown rotation {self.rotation!r}; choose one of {', '.join(ROTATIONS)}")
        if self.rotation == "hadamard" and self.width & (self.width - 1):
            raise ValueError(f"the Hadamard rotation needs a width that is a power of 2, got {self.width}")
        for name in ("eps", "gamma_std", "beta_std"):
            check_number(name, getattr(self, name))

    def label(self, rotation: bool = True) -> str:
        d = self.dataset
        return (f"L {self.depth}, C {self.width}, N {d.n}, {d.height}×{d.width}×{d.channels}, K {self.kernel_size}, "
                f"{self.padding}" + (f", R {self.rotation}" if rotation else ""))

    def describe(self) -> dict:
        return jsonable({**asdict(self), "dataset": asdict(self.dataset)})


@dataclass
class Theta:
    """θ with a leading axis of ``M`` copies: per layer ``W`` ``(M, K, K, C_in, C_out)``, ``γ``, ``β`` ``(M, C)``;
    the read-out ``(M, C, classes)`` and its bias ``(M, classes)``."""

    weights: list[torch.Tensor]
    gammas: list[torch.Tensor]
    betas: list[torch.Tensor]
    readout: torch.Tensor
    bias: torch.Tensor

    def tensors(self) -> list[torch.Tensor]:
        """θ in a fixed order: conv weights, γ, β (per layer), read-out, bias."""
        return [*self.weights, *self.gammas, *self.betas, self.readout, self.bias]

    def copies(self, m: int) -> "Theta":
        """``m`` independent copies of copy 0, leaves that require grad."""
        depth = len(self.weights)
        t = [x[:1].detach().expand(m, *x.shape[1:]).clone().requires_grad_() for x in self.tensors()]
        return Theta(t[:depth], t[depth:2 * depth], t[2 * depth:3 * depth], t[-2], t[-1])


@dataclass
class Problem:
    """One realization: data ``x`` ``(N, H, W, C⁰)``, labels ``y`` ``(N,)``, θ (one copy), the rotations."""

    net: ENNet
    x: torch.Tensor
    y: torch.Tensor
    theta: Theta
    rotations: list[torch.Tensor]

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def conv_size(self) -> int:
        """Entries of θ that are conv weights (the leading block of the flat gradient)."""
        return sum(w[0].numel() for w in self.theta.weights)

    def with_rotation(self, kind: str, gen: torch.Generator | None = None) -> "Problem":
        """The same data and parameters with rotation ``kind`` at every layer."""
        rots = [rotation(kind, w.shape[-1], gen) for w in self.theta.weights]
        return replace(self, net=replace(self.net, rotation=kind), rotations=rots)


def draw_problem(net: ENNet, ss: np.random.SeedSequence) -> Problem:
    """Data (``child 0``), labels (``child 1``), parameters (``child 2``) and Haar rotations (``child 3``) of one
    realization."""
    x = net.dataset.draw(child(ss, 0))
    rng = np.random.default_rng(child(ss, 1))
    y = torch.from_numpy(rng.integers(0, net.classes, x.shape[0]))
    gen = tn.generator(child(ss, 2))
    weights, gammas, betas = [], [], []
    c_in, k, c = x.shape[-1], net.kernel_size, net.width
    for _ in range(net.depth):
        weights.append(random_kernel(k, c_in, c, gen)[None])
        gammas.append(1 + net.gamma_std * torch.randn(1, c, generator=gen, dtype=DTYPE))
        betas.append(net.beta_std * torch.randn(1, c, generator=gen, dtype=DTYPE))
        c_in = c
    readout = torch.randn(1, c, net.classes, generator=gen, dtype=DTYPE) / math.sqrt(c)
    theta = Theta(weights, gammas, betas, readout, torch.zeros(1, net.classes, dtype=DTYPE))
    rgen = tn.generator(child(ss, 3))
    rots = [rotation(net.rotation, c, rgen) for _ in range(net.depth)]
    return Problem(net, torch.from_numpy(np.ascontiguousarray(x)), y, theta, rots)


# -- forward passes (x: (M, B, H, W, C), one θ copy per minibatch) ---------------------------------------
def _bcast(v: torch.Tensor) -> torch.Tensor:
    """``(M, B, C)`` or ``(M, C)`` per-channel values -> broadcastable against ``(M, B, H, W, C)``."""
    return v[:, :, None, None, :] if v.ndim == 3 else v[:, None, None, None, :]


def _activate(problem: Problem, theta: Theta, l: int, q: torch.Tensor) -> torch.Tensor:
    """``φ((γ ⊙ q) R + β)`` of layer ``l``."""
    act = tn.torch_activation(problem.net.activation)
    return act((_bcast(theta.gammas[l]) * q) @ problem.rotations[l] + _bcast(theta.betas[l]))


def _losses(problem: Problem, theta: Theta, z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy ``(M, B)`` of GAP + linear read-out (labels ``y[idx]``)."""
    logits = z.mean(dim=(2, 3)) @ theta.readout + theta.bias[:, None, :]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), problem.y[idx].reshape(-1),
                           reduction="none").reshape(idx.shape)


def centered(x: torch.Tensor, w: torch.Tensor, mu: torch.Tensor, eps: float, padding: str = "circular"
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """``p = conv(x, W) − μ·𝐖`` per copy (``x`` ``(M, B, H, W, C_in)``, ``w`` ``(M, K, K, C_in, C_out)``, ``μ``
    ``(M, C_in)`` or per example ``(M, B, C_in)``) and ``ν_b = E_ij p_b² + ε`` ``(M, B, C_out)``."""
    shift = (mu if mu.ndim == 3 else mu[:, None, :]) @ kernel_sum(w)
    p = conv_copies(x, w, padding) - shift[:, :, None, None, :]
    return p, (p ** 2).mean(dim=(2, 3)) + eps


def population_layer(x: torch.Tensor, w: torch.Tensor, eps: float, padding: str = "circular"
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Population normalization's statistics of each copy's batch ``x`` ``(M, B, H, W, C_in)``: the mean taken
    *before* the conv, ``μ = E_b E_ij x_b`` ``(M, C_in)``, then ``p = conv(x, W) − μ·𝐖`` and
    ``ν = E_b E_ij p² + ε`` ``(M, C_out)``. Returns ``(p, μ, ν)``."""
    mu = x.mean(dim=(1, 2, 3))
    p = centered(x, w, mu, eps, padding)[0]
    return p, mu, (p ** 2).mean(dim=(1, 2, 3)) + eps


def _centered(problem: Problem, theta: Theta, l: int, x: torch.Tensor, mu: torch.Tensor):
    return centered(x, theta.weights[l], mu, problem.net.eps, problem.net.padding)


def _batches(idx) -> torch.Tensor:
    """Index arrays ``(M, B)`` (a single minibatch ``(B,)`` becomes ``(1, B)``)."""
    t = torch.as_tensor(np.asarray(idx, dtype=np.int64))
    return t[None] if t.ndim == 1 else t


def population_forward(problem: Problem, theta: Theta | None = None, idx=None
                       ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Population normalization (:func:`population_layer`) of each minibatch of ``idx`` ``(M, B)`` (default: all
    ``N``) with *its own* statistics: per-example losses ``(M, B)`` and ``[(μ^l, ν^l)]`` (``(M, C)`` each). E0 on
    all ``N``; E1 (minibatch BN) on minibatches."""
    theta = problem.theta if theta is None else theta
    idx = _batches(np.arange(problem.n) if idx is None else idx)
    z = problem.x[idx]
    stats = []
    for l in range(problem.net.depth):
        p, mu, nu = population_layer(z, theta.weights[l], problem.net.eps, problem.net.padding)
        stats.append((mu, nu))
        z = _activate(problem, theta, l, p / torch.sqrt(_bcast(nu)))
    return _losses(problem, theta, z, idx), stats


def oracle_ema(problem: Problem) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The oracle EMAs ``[(μ̄^l, ν̄^l)]``: the exact population statistics at the current θ, as constants."""
    with torch.no_grad():
        return [(m[0].detach(), v[0].detach()) for m, v in population_forward(problem)[1]]


def _dagger(problem, theta, l, x, ema, mods):
    """Tower 1 (†) layer: its output, ``μ_b`` ``(M, B, C_in)``, ``ν_b`` ``(M, B, C_out)`` and ``q``."""
    mu_bar, nu_bar = ema[l]
    mu_b = x.mean(dim=(2, 3))
    p, nu_b = _centered(problem, theta, l, x, scale_grad(mu_bar, mu_b, mods.r_m))
    nu_dag = scale_grad(nu_bar, nu_b, mods.nu_factor(nu_bar, nu_b))
    q = p / torch.sqrt(_bcast(nu_dag)) * _bcast(mods.clip(nu_bar, nu_b))
    return _activate(problem, theta, l, q), mu_b, nu_b, q


def _ddagger_nu(mods, nu_bar, nu_b):
    """``ν‡ = ScaleGrad(ν̄, E_b ν_b, r_v·min(ν̄/E_b ν_b, f_max))`` ``(M, C_out)``."""
    nu_mean = nu_b.mean(dim=1)
    return scale_grad(nu_bar, nu_mean, mods.nu_factor(nu_bar, nu_mean))


def tower_forward(problem: Problem, theta: Theta, idx: torch.Tensor, ema, mods: "Modifiers", kind: str,
                  idx1: torch.Tensor | None = None, record: list | None = None) -> torch.Tensor:
    """Per-example losses ``(M, B)`` of a training forward with EMAs ``ema`` on the minibatches ``idx``:

    ``dagger``   tower 1 alone (E4, E6);
    ``ddagger``  ‡ at every layer, inside ``p`` too (E3);
    ``towers``   tower 1 (†) on ``idx1`` (default ``idx``), tower 2 on ``idx`` normalized by tower 1's ‡; the
                 losses are tower 2's (E5, E5'). Tower 2's clip uses its own examples' ``ν_b``.
    ``record`` collects each layer's normalized ``q`` of the loss tower (for the clip invariant, EN12).
    """
    x = problem.x[idx]
    x1 = problem.x[idx if idx1 is None else idx1]
    for l in range(problem.net.depth):
        mu_bar, nu_bar = ema[l]
        if kind == "dagger":
            x, _, _, q = _dagger(problem, theta, l, x, ema, mods)
        elif kind == "ddagger":
            mu_dd = scale_grad(mu_bar, x.mean(dim=(1, 2, 3)), mods.r_m)
            p, nu_b = _centered(problem, theta, l, x, mu_dd)
            q = p / torch.sqrt(_bcast(_ddagger_nu(mods, nu_bar, nu_b))) * _bcast(mods.clip(nu_bar, nu_b))
            x = _activate(problem, theta, l, q)
        elif kind == "towers":
            x1, mu_b, nu_b, _ = _dagger(problem, theta, l, x1, ema, mods)
            mu_dd = scale_grad(mu_bar, mu_b.mean(dim=1), mods.r_m)
            p, nu_own = _centered(problem, theta, l, x, mu_dd)
            q = p / torch.sqrt(_bcast(_ddagger_nu(mods, nu_bar, nu_b))) * _bcast(mods.clip(nu_bar, nu_own.detach()))
            x = _activate(problem, theta, l, q)
        else:
            raise ValueError(f"unknown training forward {kind!r}; choose dagger, ddagger or towers")
        if record is not None:
            record.append(q)
    return _losses(problem, theta, x, idx)


def renorm_forward(problem: Problem, theta: Theta, idx: torch.Tensor, ema) -> torch.Tensor:
    """Batch renormalization (Ioffe 2017), unclipped (E2): per layer ``h = conv(x, W)``,
    ``(h − μ_B)/σ_B · sg(σ_B/σ̄) + sg((μ_B − μ̄·𝐖)/σ̄)`` with ``σ_B² = Var_B(h) + ε``, ``σ̄² = ν̄``."""
    x = problem.x[idx]
    for l in range(problem.net.depth):
        mu_bar, nu_bar = ema[l]
        h = conv_copies(x, theta.weights[l], problem.net.padding)
        mu_b = h.mean(dim=(1, 2, 3), keepdim=True)
        sigma_b = torch.sqrt(((h - mu_b) ** 2).mean(dim=(1, 2, 3), keepdim=True) + problem.net.eps)
        sigma_bar = torch.sqrt(nu_bar)
        mu_bar_h = _bcast(mu_bar @ kernel_sum(theta.weights[l]))
        q = (h - mu_b) / sigma_b * (sigma_b / sigma_bar).detach() + ((mu_b - mu_bar_h) / sigma_bar).detach()
        x = _activate(problem, theta, l, q)
    return _losses(problem, theta, x, idx)


# -- the estimators --------------------------------------------------------------------------------------
class Estimates(NamedTuple):
    """Gradient estimates ``ĝ`` ``(M, P)`` (flat float64, θ's order) and the per-example losses ``(M, B)``."""

    grads: np.ndarray
    losses: np.ndarray


def check_batches(n: int, idx, what: str = "minibatch") -> np.ndarray:
    """``idx`` as ``(M, B)`` int64 rows of distinct example indices in ``0 … N−1`` (a clear error otherwise)."""
    a = np.asarray(idx)
    a = a[None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[1] == 0 or a.shape[0] == 0 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"a {what} must be a non-empty list of integer indices (or an (M, B) array of them), "
                         f"got shape {np.shape(idx)}")
    if a.min() < 0 or a.max() >= n:
        raise ValueError(f"{what} indices must lie in 0..{n - 1}, got {a.min()}..{a.max()}")
    if any(len(set(row.tolist())) != len(row) for row in a):
        raise ValueError(f"a {what} must not repeat an example (uniform subsets are drawn without replacement)")
    return a.astype(np.int64)


def _forward(problem, theta, estimator, idx, mods, ema, idx1):
    if estimator in ("E0", "E1"):
        return population_forward(problem, theta, idx)[0]
    if estimator == "E2":
        return renorm_forward(problem, theta, idx, ema)
    if estimator == "E3":
        return tower_forward(problem, theta, idx, ema, mods, "ddagger")
    if estimator in ("E4", "E6"):
        return tower_forward(problem, theta, idx, ema, replace(mods, **STOP_GRADIENT) if estimator == "E6" else mods,
                             "dagger")
    return tower_forward(problem, theta, idx, ema, mods, "towers", idx1=idx1)


def estimates(problem: Problem, estimator: str, idx=None, mods: Modifiers = Modifiers(), ema=None,
              idx1=None, gradients: bool = True) -> Estimates:
    """The estimates of ``estimator`` (:data:`ESTIMATORS`) on each minibatch of ``idx`` ``(M, B)`` (a single
    ``(B,)`` one; default all ``N``; E0 ignores it), with EMAs ``ema`` (default :func:`oracle_ema`);
    ``idx1`` ``(M, B₁)``: tower 1's minibatches of E5'. A pass takes as many minibatches as fit
    :data:`CHUNK_ELEMENTS`. ``gradients=False``: the forward only (``grads`` empty, ``(M, 0)``)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    full = np.arange(problem.n)[None]
    idx = full if idx is None or estimator == "E0" else check_batches(problem.n, idx)
    if estimator == "E5'":
        if idx1 is None:
            raise ValueError("E5' needs tower 1's minibatches idx1")
        idx1 = check_batches(problem.n, idx1, "tower-1 minibatch")
        if len(idx1) != len(idx):
            raise ValueError(f"E5' needs one tower-1 minibatch per minibatch, got {len(idx1)} for {len(idx)}")
    ema = oracle_ema(problem) if ema is None and estimator not in ("E0", "E1") else ema
    _, h, w, c = problem.x.shape
    k2 = problem.net.kernel_size ** 2
    per_batch = (idx.shape[1] + (idx1.shape[1] if idx1 is not None else 0)) * h * w * max(c, problem.net.width) * k2
    chunk = max(1, CHUNK_ELEMENTS // per_batch)
    grads, losses = [], []
    for start in range(0, len(idx), chunk):
        part = torch.from_numpy(idx[start:start + chunk])
        part1 = torch.from_numpy(idx1[start:start + chunk]) if estimator == "E5'" else None
        theta = problem.theta.copies(len(part))
        with torch.set_grad_enabled(gradients):
            out = _forward(problem, theta, estimator, part, mods, ema, part1)
        losses.append(out.detach().numpy())
        if not gradients:
            grads.append(np.zeros((len(part), 0)))
            continue
        tensors = theta.tensors()
        got = torch.autograd.grad(out.mean(dim=1).sum(), tensors, allow_unused=True)
        grads.append(torch.cat([(torch.zeros_like(t) if g is None else g).reshape(len(part), -1)
                                for t, g in zip(tensors, got)], dim=1).numpy())
    return Estimates(np.concatenate(grads), np.concatenate(losses))


def estimate(problem: Problem, estimator: str, idx=None, mods: Modifiers = Modifiers(), ema=None,
             idx1=None) -> tuple[np.ndarray, np.ndarray]:
    """One estimate: ``(ĝ, per-example losses)`` on the minibatch ``idx`` (see :func:`estimates`)."""
    if idx is not None and np.ndim(idx) != 1:
        raise ValueError(f"estimate takes one minibatch (a list of indices), got shape {np.shape(idx)}")
    if idx1 is not None and np.ndim(idx1) != 1:
        raise ValueError(f"estimate takes one tower-1 minibatch (a list of indices), got shape {np.shape(idx1)}")
    out = estimates(problem, estimator, idx, mods, ema, idx1)
    return out.grads[0], out.losses[0]


def target_gradient(problem: Problem) -> np.ndarray:
    """``G* = ∇_θ E_n ℓ_n`` (E0)."""
    return estimate(problem, "E0")[0]


def per_example_gradients(problem: Problem, mods: Modifiers = Modifiers(), ema=None) -> np.ndarray:
    """``g_n = E4({n})`` for every example, ``(N, P)``."""
    return estimates(problem, "E4", np.arange(problem.n)[:, None], mods, ema).grads


# -- the inference fold ----------------------------------------------------------------------------------
def fold_kernel(w: torch.Tensor, gamma: torch.Tensor, nu_bar: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:
    """``K = (W ⊙ γ/sqrt(ν̄)) R`` on the output-channel axis (``r`` None: the fold that forgets ``R``)."""
    k = w * (gamma / torch.sqrt(nu_bar))
    return k if r is None else k @ r


def inference_forward(problem: Problem, ema, forget_rotation: bool = False) -> list[torch.Tensor]:
    """``ConvLayer_Inference`` at every layer on all ``N`` examples, ``φ(conv(x, K) − μ̄·Σ_ij K_ij + β)``: each
    layer's output ``(N, H, W, C)``."""
    x, outs, th = problem.x, [], problem.theta
    act = tn.torch_activation(problem.net.activation)
    for l in range(problem.net.depth):
        mu_bar, nu_bar = ema[l]
        k = fold_kernel(th.weights[l][0], th.gammas[l][0], nu_bar, None if forget_rotation else problem.rotations[l])
        x = act(conv(x, k, problem.net.padding) - mu_bar @ kernel_sum(k) + th.betas[l][0])
        outs.append(x)
    return outs


def training_forward_values(problem: Problem, ema, true_mean: bool = False) -> list[torch.Tensor]:
    """Tower 1's forward values on all ``N`` examples with EMAs ``ema`` (clip inactive): each layer's output
    ``φ((γ ⊙ q) R + β)``, ``q = (conv(x, W) − μ̄·𝐖)/sqrt(ν̄)``; ``true_mean``: ``q = conv(x − μ̄, W)/sqrt(ν̄)``
    (EN4's control (ii))."""
    x, outs, th = problem.x[None], [], problem.theta
    for l in range(problem.net.depth):
        mu_bar, nu_bar = ema[l]
        if true_mean:
            p = conv_copies(x - mu_bar, th.weights[l], problem.net.padding)
            x = _activate(problem, th, l, p / torch.sqrt(nu_bar))
        else:
            x = _dagger(problem, th, l, x, ema, Modifiers())[0]
        outs.append(x[0])
    return outs


# -- expectations over minibatches and the metrics ---------------------------------------------------------
def minibatches(n: int, b: int, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Every ``B``-subset of ``0 … N−1`` when there are at most ``draws`` of them (exact), else ``draws`` i.i.d.
    uniform ones (each without replacement). Returns them ``(M, B)`` and whether they are exhaustive."""
    check_int("B", b)
    check_int("draws", draws)
    if b > n:
        raise ValueError(f"minibatch size B = {b} exceeds N = {n}")
    if math.comb(n, b) <= draws:
        return np.array(list(itertools.combinations(range(n), b)), dtype=np.int64), True
    return np.stack([np.sort(rng.choice(n, b, replace=False)) for _ in range(draws)]).astype(np.int64), False


METRICS = ("bias_rel", "bias2_rel", "cos_mean", "mean_cos", "rel_mse")


def bias_metrics(estimates_: np.ndarray, target: np.ndarray, exact: bool) -> dict[str, float]:
    """§7B.2's metrics of estimates ``(K, P)`` against ``G*``:

    ``bias2_rel``  ``‖E ĝ − G*‖²/‖G*‖²``; exact (``estimates`` are all subsets, equally likely) or the debiased
                   Monte Carlo estimate ``(‖m − G*‖² − tr Σ̂ / K)/‖G*‖²``, ``tr Σ̂ = Σ_k ‖ĝ_k − m‖²/(K − 1)``
                   (unbiased; may be < 0 by noise);
    ``bias_rel``   ``sqrt(max(bias2_rel, 0))``;
    ``cos_mean``   ``cos(E ĝ, G*)`` (Monte Carlo: ``‖E ĝ‖²`` debiased the same way);
    ``mean_cos``   ``E cos(ĝ, G*)``;   ``rel_mse``  ``E‖ĝ − G*‖²/‖G*‖²``.
    """
    g = np.asarray(estimates_, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    k = len(g)
    if not exact and k < 2:
        raise ValueError("the debiased Monte Carlo estimate needs at least 2 draws")
    tt = float(t @ t)
    m = g.mean(axis=0)
    noise = 0.0 if exact else float(((g - m) ** 2).sum()) / (k - 1) / k
    bias2 = (float((m - t) @ (m - t)) - noise) / tt
    mm = float(m @ m) - noise
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (g @ t) / (np.linalg.norm(g, axis=1) * math.sqrt(tt))
    return {"bias_rel": math.sqrt(max(bias2, 0.0)), "bias2_rel": bias2,
            "cos_mean": float(m @ t) / math.sqrt(mm * tt) if mm > 0 else float("nan"),
            "mean_cos": float(np.mean(cos)), "rel_mse": float(((g - t) ** 2).sum(axis=1).mean()) / tt}


def expected_metrics(problem: Problem, estimator: str, b: int, target: np.ndarray, draws: int,
                     rng: np.random.Generator, mods: Modifiers = Modifiers(), ema=None, b1: int | None = None
                     ) -> dict[str, float]:
    """:func:`bias_metrics` of ``estimator`` over uniform ``B``-subsets (exact when there are ≤ ``draws``), on the
    full θ and (keys suffixed ``_conv``) on the conv weights alone; ``exact`` says which. E5': tower 1 on an
    independent uniform ``B₁``-subset per draw (Monte Carlo)."""
    idx, exact = minibatches(problem.n, b, draws, rng)
    idx1 = None
    if estimator == "E5'":
        exact = False
        if len(idx) < draws:  # enumerated S₂: pair each with fresh S₁ draws
            idx = idx[rng.integers(0, len(idx), draws)]
        idx1 = np.stack([np.sort(rng.choice(problem.n, b1, replace=False)) for _ in range(len(idx))])
    g = estimates(problem, estimator, idx, mods, ema, idx1).grads
    c = problem.conv_size
    out = bias_metrics(g, target, exact)
    out.update({f"{k}_conv": v for k, v in bias_metrics(g[:, :c], target[:c], exact).items()})
    out["exact"] = float(exact)
    return out


def rel_error(a, b) -> float:
    """``‖a − b‖ / ‖b‖`` in float64 (arrays or tensors)."""
    a = np.asarray(a.detach() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def without_replacement_factor(n: int, b):
    """``(N − B)/(B (N − 1))``, the variance factor of a mean over a uniform ``B``-subset of ``N`` (EN9 (b), EN15):
    an exact ``Fraction`` for an integer ``B``, float64 for an array of them."""
    if isinstance(b, (int, np.integer)) and not isinstance(b, bool):
        return Fraction(n - int(b), int(b) * (n - 1)) if n > 1 else Fraction(0)
    b = np.asarray(b, dtype=np.float64)
    return (n - b) / (b * (n - 1)) if n > 1 else np.zeros_like(b)


def per_example_rel_mse(g: np.ndarray, target: np.ndarray, batch_sizes: Sequence[int]) -> np.ndarray:
    """Exact ``E‖E4(S) − G*‖²/‖G*‖²`` at each ``B`` from the per-example gradients ``g`` ``(N, P)``:
    ``‖ḡ − G*‖² + (N − B)/(B (N − 1)) · (1/N) Σ_n ‖g_n − ḡ‖²`` (EN9 (a), (b))."""
    gbar = g.mean(axis=0)
    spread = float(((g - gbar) ** 2).sum(axis=1).mean())
    tt = float(target @ target)
    factor = without_replacement_factor(len(g), np.asarray(batch_sizes, dtype=np.float64))
    return (float((gbar - target) @ (gbar - target)) + factor * spread) / tt


# -- claim helpers ---------------------------------------------------------------------------------------
def exact(quantity: str, relation: str, prediction, label: str, cells: Sequence, cell_name: str,
          tolerance: float = TOL) -> Comparison:
    """A deterministic comparison (every realization, every cell, within ``tolerance``); an empty ``cell_name``
    reads "case"."""
    return Comparison(quantity, relation, prediction, tolerance, "exact", label, cells=list(cells),
                      cell_name=cell_name or "case")


def random_kernel(k: int, c_in: int, c_out: int, gen: torch.Generator) -> torch.Tensor:
    """``W ~ N(0, 1/(K² C_in))`` of shape ``(K, K, C_in, C_out)``."""
    return torch.randn(k, k, c_in, c_out, generator=gen, dtype=DTYPE) / math.sqrt(k * k * c_in)
