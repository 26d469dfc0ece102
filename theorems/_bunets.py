"""Shared machinery of the claims BU1–BU11 (Rao & Sohl-Dickstein, *Is Batch Norm unique?*; SPEC-companions §7A):
torch float64 nets at initialization, their realizations, the measured quantities of §7A.3, the mean-field rates
of §7A.4 and the RegNorm regularizer (BU8, SPEC §4 RN). Not a claim module (leading underscore).

**Nets** (§7A.1 Eq. 2 at initialization: ``γ = 1, β = 0``, A3), on tensors ``(N, C, *spatial)``:

    plain      h^l = W^l ∗ z^{l−1}   (PreLN: W^l ∗ (z^{l−1} − mean_𝔏 z^{l−1})),   u^l = norm(h^l),   z^l = φ(u^l)
    residual   x^0 = W^0 ∗ x,   u^l = norm(x^{l−1}),   x^l = x^{l−1} + W^l ∗ φ(u^l)           (pre-activation, BU4b)

``W^l ~ N(0, 2/fan_in)``: dense ``(C_out, C_in)`` for fully connected nets (``spatial = 1``, the ``H = W = 1`` case)
or periodic ``K×K`` convolutions ``(C_out, C_in, K, K)`` (:func:`theorems._torchnets.periodic_conv`). The norms are
:func:`theorems._torchnets.normalize` (the torch twins of :mod:`randnet.norms`), the input centring is the norm's
registry flag (:func:`randnet.norms.centres_input`). Read-out: ``logits = V f`` with ``f = z^L`` (``x^L`` for the
residual net), global-average-pooled over ``(h, w)`` for conv nets, ``V ~ N(0, 1/width)``; the loss is the mean
cross-entropy on labels uniform over :data:`CLASSES` classes.

**Data** (A4): ``X = m + ξ`` with ``m, ξ ~ N(0, I)`` of shape ``(C_in, *spatial)``, ``m`` shared by the batch
(uncentred inputs: offsets shared by every input, as for images), and the similar minibatch
``X' = X + δ·sd(X)·Ξ``, ``Ξ ~ N(0, I)``. ``X`` and ``X'`` are two minibatches, each normalized with its own batch
statistics; they travel together as the leading axis ``g`` of ``(2, B, C, *spatial)``.

**Measured** (§7A.3): ``d^l = 1 − c^l`` with ``c^l`` the Pearson correlation of ``vec u^l(X)`` and ``vec u^l(X')``
(:func:`decorrelation`), the growth ratio ``ρ̂`` (:func:`growth_ratio`), the weight-gradient profile
``G_l = ‖∂ℒ/∂W^l‖_F²`` and its per-layer factor ``κ̂`` (:func:`gradient_factor`), the gradient correlation
``r^l`` (:func:`weight_gradients`).

Seeding: realization ``ss`` draws the data from ``child(ss, 0)``, the weights from ``child(ss, 1)`` (one layer after
the other: layer ``l`` does not depend on the batch size or on the other norms), the labels from ``child(ss, 2)``;
every norm of a panel sees the same realization (paired comparisons).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from randnet import child, gaussian_moments, get_activation
from randnet.checks import check_int, check_number
from randnet.norms import centres_input
from randnet.proxy import panel_rule
from randnet.roundoff import FLOAT64_EXACT
from theorems import _torchnets as tn
from theorems.base import Comparison

CLASSES = 10
EPS = 1e-8                        # A3: ε of every normalizer in the nets (0 in the exact identities of BU1)
CHI = math.pi / (math.pi - 1)     # χ_centred of ReLU (§7A.4)
GROWTH_LAYERS = 10                # ρ̂ uses the first (≤ 10) layers with d < d_max
D_MAX = {0.05: 0.1, 1e-4: 1e-3}   # d_max for the two δ of A4
CENTRED = ("bn", "bmlv", "bmlv_c", "preln")               # remove the common mean of φ(u) before W (§7A.4)
UNCENTRED = ("ln", "lmbv", "lmbv_c", "regnorm", "regnorm_ln", "none")
BU_NORMS = ("bn", "bmlv", "bmlv_c", "preln", "ln", "lmbv", "lmbv_c", "regnorm", "regnorm_ln", "none")


# -- mean-field rates (§7A.4) -------------------------------------------------------------------------------
def mean_field_rates(activation: str) -> tuple[float, float]:
    """``(χ_uncentred, χ_centred) = (E[φ'(u)²] / E[φ(u)²], E[φ'(u)²] / Var φ(u))``, ``u ~ N(0, 1)``.

    Gaussian moments of φ from :func:`randnet.gaussian_moments`; ``E[φ'²]`` by the same Gauss–Legendre panels
    (a kink of φ at 0 sits on a panel edge). ReLU: ``(1, π/(π−1))``; tanh: both ``0.46440/0.39429 = 1.17781``.
    """
    act = get_activation(activation)
    t, w = panel_rule(160)
    slope2 = float(np.square(act.derivative(t)) @ w)
    mean, var = (float(v) for v in gaussian_moments(act, 0.0, 1.0))
    return slope2 / (var + mean * mean), slope2 / var


def predicted_rate(norm: str, activation: str) -> float:
    """χ of ``norm``'s class (§7A.4): centred (BN, BMLV, PreLN) or uncentred (LN, RegNorm, none; LMBV by class,
    though the simple theory does not cover it)."""
    uncentred, centred = mean_field_rates(activation)
    return centred if norm in CENTRED else uncentred


# -- configuration --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetSpec:
    """A BU net and its realization: ``depth`` layers of ``width`` channels on batches of ``batch`` inputs of
    ``input_dim`` channels and ``spatial × spatial`` maps (``spatial = 1``: fully connected, then
    ``kernel_size = 1``); ``residual``: the pre-activation residual net; ``delta``: δ of ``X' = X + δ sd(X) Ξ``."""

    width: int = 512
    depth: int = 20
    batch: int = 128
    input_dim: int = 256
    spatial: int = 1
    kernel_size: int = 1
    activation: str = "relu"
    residual: bool = False
    delta: float = 0.05
    eps: float = EPS

    def __post_init__(self) -> None:
        for name in ("width", "depth", "batch", "input_dim", "spatial", "kernel_size"):
            check_int(name, getattr(self, name))
        tn.check_odd_kernel(self.kernel_size)
        if self.spatial == 1 and self.kernel_size != 1:
            raise ValueError(f"a fully connected net (spatial = 1) has kernel_size 1, got {self.kernel_size}")
        get_activation(self.activation)
        check_number("delta", self.delta, strict=True)
        check_number("eps", self.eps)

    @property
    def conv(self) -> bool:
        return self.spatial > 1

    @property
    def d_max(self) -> float:
        """d_max of §7A.3: 0.1 for the correlation curves' δ (≥ 0.01, e.g. 0.05), 1e-3 for growth rates (δ < 0.01)."""
        return D_MAX[0.05] if self.delta >= 0.01 else D_MAX[1e-4]

    def net_label(self) -> str:
        kind = f"conv K={self.kernel_size} {self.spatial}×{self.spatial}" if self.conv else "FC"
        return (f"{kind}{' residual' if self.residual else ''} C={self.width} L={self.depth} B={self.batch} "
                f"{self.activation} δ={self.delta:g}")

    def label(self) -> str:
        return self.net_label()

    def describe(self) -> dict:
        return asdict(self)

    def net(self) -> "NetSpec":
        """The :class:`NetSpec` part of a claim's configuration (a subclass adding fields)."""
        return NetSpec(**{f.name: getattr(self, f.name) for f in fields(NetSpec)})


@dataclass(frozen=True)
class PanelConfig(NetSpec):
    """Several normalizers on the same realization of the net (same data, weights, labels: paired)."""

    norms: tuple[str, ...] = BU_NORMS

    def __post_init__(self) -> None:
        super().__post_init__()
        norms = tuple(self.norms)
        object.__setattr__(self, "norms", norms)
        if not norms or len(set(norms)) != len(norms):
            raise ValueError(f"a panel needs distinct norms, got {norms!r}")
        unknown = [n for n in norms if n not in tn.NORMS]
        if unknown:
            raise ValueError(f"unknown normalization(s) {unknown}; choose among {', '.join(tn.NORMS)}")

    def label(self) -> str:
        return f"{self.net_label()} [{', '.join(self.norms)}]"


# -- one realization ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Realization:
    """``x``: ``(2, B, C_in, *spatial)`` holding ``X`` and ``X'``; ``labels`` ``(B,)``; ``weights[l]`` of layer ``l``
    (``weights[0]`` is ``W^0`` of the residual net's input map); ``readout`` ``V`` ``(CLASSES, width)``; ``offset``
    the inputs' shared ``m``."""

    x: torch.Tensor
    labels: torch.Tensor
    weights: tuple[torch.Tensor, ...]
    readout: torch.Tensor
    offset: torch.Tensor


def sample_inputs(spec: NetSpec, gen: torch.Generator, batch: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(2, B, C_in, *spatial)``: ``X = m + ξ`` and ``X' = X + δ sd(X) Ξ`` (module doc), and the offset ``m``."""
    b = spec.batch if batch is None else batch
    shape = (spec.input_dim,) + ((spec.spatial,) * 2 if spec.conv else ())
    m = torch.randn(shape, generator=gen, dtype=tn.DTYPE)
    x = m + torch.randn((b,) + shape, generator=gen, dtype=tn.DTYPE)
    noise = torch.randn((b,) + shape, generator=gen, dtype=tn.DTYPE)
    return torch.stack([x, x + spec.delta * x.std(unbiased=False) * noise]), m


def sample_weights(spec: NetSpec, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """``W^l ~ N(0, 2/fan_in)``, layer after layer (``W^0, W^1 … W^L`` for the residual net)."""
    k = spec.kernel_size
    tail = (k, k) if spec.conv else ()
    shapes = [(spec.width, spec.input_dim)] + [(spec.width, spec.width)] * (spec.depth - (0 if spec.residual else 1))
    out = []
    for c_out, c_in in shapes:
        fan_in = c_in * k * k
        out.append(torch.randn((c_out, c_in) + tail, generator=gen, dtype=tn.DTYPE) * math.sqrt(2 / fan_in))
    return tuple(out)


def sample(spec: NetSpec, ss: np.random.SeedSequence, batch: int | None = None) -> Realization:
    """One realization of ``spec`` (module doc for the seeding); ``batch`` overrides ``spec.batch`` for the data."""
    b = spec.batch if batch is None else batch
    x, m = sample_inputs(spec, tn.generator(child(ss, 0)), b)
    wgen = tn.generator(child(ss, 1))
    weights = sample_weights(spec, wgen)
    readout = torch.randn(CLASSES, spec.width, generator=wgen, dtype=tn.DTYPE) / math.sqrt(spec.width)
    labels = torch.randint(CLASSES, (b,), generator=tn.generator(child(ss, 2)))
    return Realization(x, labels, weights, readout, m)


# -- forward and backward -------------------------------------------------------------------------------------
def _affine(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``W ∗ z`` for ``z`` ``(G, B, C_in, *spatial)``; ``w`` shared ``(C_out, C_in[, K, K])`` or one per group
    ``(G, C_out, C_in[, K, K])``."""
    if z.ndim == 3:
        return torch.matmul(z, w.transpose(-1, -2))
    if w.ndim == 4:
        return tn.periodic_conv(z.flatten(0, 1), w).unflatten(0, z.shape[:2])
    return torch.stack([tn.periodic_conv(z[g], w[g]) for g in range(len(z))])


def _normalize(h: torch.Tensor, norm: str, eps: float) -> torch.Tensor:
    """``norm`` on each group (minibatch) of ``h`` ``(G, B, C, *spatial)`` with its own statistics."""
    return torch.stack([tn.normalize(h[g], norm, eps) for g in range(len(h))])


def forward(spec: NetSpec, weights, x: torch.Tensor, norm: str) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The representations ``[u^1 … u^L]`` (each ``(G, B, C, *spatial)``) and the read-out features ``f``
    ``(G, B, width)`` of the net of ``spec`` with ``norm`` on inputs ``x`` ``(G, B, C_in, *spatial)``."""
    act = tn.torch_activation(spec.activation)
    reps = []
    if spec.residual:
        h = _affine(x, weights[0])
        for w in weights[1:]:
            u = _normalize(h, norm, spec.eps)
            reps.append(u)
            h = h + _affine(act(u), w)
        out = h
    else:
        z, centring = x, centres_input(norm)
        for w in weights:
            if centring:  # per input of each group
                z = tn.centre_input(z.flatten(0, 1)).unflatten(0, z.shape[:2])
            u = _normalize(_affine(z, w), norm, spec.eps)
            reps.append(u)
            z = act(u)
        out = z
    return reps, (out.mean(dim=(3, 4)) if spec.conv else out)


def loss(features: torch.Tensor, readout: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over groups of the mean cross-entropy of the linear read-out (one loss per minibatch, added)."""
    logits = torch.matmul(features, readout.T)
    return sum(F.cross_entropy(logits[g], labels) for g in range(len(logits)))


def decorrelation(pair: torch.Tensor) -> float:
    """``d = 1 − c``, ``c`` the Pearson correlation of ``vec pair[0]`` and ``vec pair[1]`` (global means removed),
    computed as ``‖â − b̂‖² / 2`` with ``â = (a − ā)/‖a − ā‖`` (no cancellation when ``d ≪ 1``)."""
    flat = pair.reshape(2, -1)
    flat = flat - flat.mean(dim=1, keepdim=True)
    unit = flat / flat.norm(dim=1, keepdim=True)
    return float(((unit[0] - unit[1]) ** 2).sum() / 2)


def representation_decorrelation(spec: NetSpec, real: Realization, norm: str) -> tuple[float, np.ndarray]:
    """``(d^0, [d^1 … d^L])`` of the inputs and of the pre-activations ``u^l`` (no gradients)."""
    with torch.no_grad():
        reps, _ = forward(spec, real.weights, real.x, norm)
        return decorrelation(real.x), np.array([decorrelation(u) for u in reps])


def weight_gradients(spec: NetSpec, real: Realization, norm: str, pair: bool = False
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """``G`` ``(groups, L)``: ``G_l = ‖∂ℒ/∂W^l‖_F²`` on ``X`` (and on ``X'`` when ``pair``), and with ``pair`` the
    gradient correlation ``r^l = Pearson(∂ℒ/∂W^l|_X, ∂ℒ/∂W^l|_X')`` ``(L,)`` (same labels, same weights).

    Each minibatch gets its own copy of the weights, so one backward pass gives both gradients. The residual
    net's profile is over its blocks ``W^1 … W^L`` (not the input map ``W^0``).
    """
    groups = 2 if pair else 1
    x = real.x[:groups]
    leaves = [w.expand(groups, *w.shape).clone().requires_grad_() for w in real.weights]
    _, features = forward(spec, leaves, x, norm)
    grads = torch.autograd.grad(loss(features, real.readout, real.labels), leaves)
    if spec.residual:
        grads = grads[1:]
    with torch.no_grad():
        dims = [tuple(range(1, g.ndim)) for g in grads]
        profile = torch.stack([(g * g).sum(dim=d) for g, d in zip(grads, dims)], dim=1).numpy()
        if not pair:
            return profile, None
        centred = [g - g.mean(dim=d, keepdim=True) for g, d in zip(grads, dims)]
        r = [(c[0] * c[1]).sum() / torch.sqrt((c[0] * c[0]).sum() * (c[1] * c[1]).sum()) for c in centred]
        return profile, torch.stack(r).numpy()


# -- summaries (§7A.3) -----------------------------------------------------------------------------------------
def growth_ratio(d: np.ndarray, d_max: float, layers: int = GROWTH_LAYERS) -> float:
    """``ρ̂ = exp(mean_l log(d^l / d^{l−1}))`` over consecutive layers among the first ``layers`` layers
    ``1 … l*`` with ``d < d_max`` (``d = [d^1 … d^L]``): ``(d^{l*} / d^1)^{1/(l* − 1)}``. The first layer's
    ratio ``d^1/d^0`` (input space to pre-activations, not the layer-to-layer map) is left out. NaN if fewer
    than two layers qualify."""
    d = np.asarray(d, dtype=float)[:layers]
    below = np.flatnonzero(~(d < d_max))
    last = len(d) if below.size == 0 else int(below[0])
    if last < 2:
        return float("nan")
    return float(np.exp(np.mean(np.diff(np.log(d[:last])))))


def gradient_factor(profile: np.ndarray) -> float:
    """``κ̂ = exp(−slope)``, the slope of the least-squares fit of ``log G_l`` against ``l`` over the interior layers
    ``3 … L−3`` (``profile = [G_1 … G_L]``)."""
    g = np.asarray(profile, dtype=float)
    depth = len(g)
    if depth < 7:
        raise ValueError(f"κ̂ fits layers 3 … L−3: it needs depth L >= 7, got {depth}")
    layers = np.arange(3, depth - 2)
    return float(np.exp(-np.polyfit(layers, np.log(g[layers - 1]), 1)[0]))


# -- the RegNorm regularizer (BU8, SPEC §4 RN) -----------------------------------------------------------------
READINGS = ("A", "B")


def layer_standardize(h: torch.Tensor, reading: str = "A") -> torch.Tensor:
    """``ĥ`` over the units (last axis): reading A ``h / σ_𝔏(h)`` (RegNorm's forward, primary), reading B
    ``(h − mean_𝔏 h) / σ_𝔏(h)`` (LN's); ``σ_𝔏`` the population std (centred)."""
    if reading not in READINGS:
        raise ValueError(f"unknown RegNorm reading {reading!r}; choose 'A' (h/σ, primary) or 'B' (LN)")
    centred = h - h.mean(-1, keepdim=True)
    return (h if reading == "A" else centred) * torch.rsqrt((centred ** 2).mean(-1, keepdim=True))


def regularizer(h: torch.Tensor, reading: str = "A", batch_var: bool = False) -> torch.Tensor:
    """``R(h) = (1/M) Σ_i m_i²`` with ``m_i = (1/B) Σ_b ĥ_{b,i}`` (:func:`layer_standardize`) of a batch ``h``
    ``(..., B, M)`` (leading axes: independent batches); ``batch_var``: the batch-variance form
    ``R_var = (1/M) Σ_i (σ_{B,i}(ĥ)² − 1)²``."""
    if h.shape[-1] < 2:
        raise ValueError(f"the regularizer needs M >= 2 units, got shape {tuple(h.shape)}")
    hat = layer_standardize(h, reading)
    m = hat.mean(-2)
    if batch_var:
        return ((((hat - m.unsqueeze(-2)) ** 2).mean(-2) - 1) ** 2).mean(-1)
    return (m ** 2).mean(-1)


def sphere_frame(units: int, count: int, gen: torch.Generator) -> torch.Tensor:
    """``count`` orthogonal zero-mean vectors of ``R^M`` with ``‖v‖² = M`` (both readings leave them unchanged), as
    rows."""
    if count > units - 1:
        raise ValueError(f"need M >= {count + 1} units for {count} orthogonal zero-mean directions, got M = {units}")
    a = torch.randn(units, count, generator=gen, dtype=tn.DTYPE)
    q, _ = torch.linalg.qr(torch.cat([torch.ones(units, 1, dtype=tn.DTYPE), a], dim=1))
    return q[:, 1:].T * np.sqrt(units)


def zero_mean_batch(batch: int, units: int, gen: torch.Generator) -> torch.Tensor:
    """Normalized ``ĥ`` ``(B, M)`` with batch mean exactly zero: pairs ``(a, −a)``; for odd ``B`` one triple at 120°."""
    rows = []
    pairs = batch // 2 - (batch % 2)  # odd B: (B − 3)/2 pairs and one triple
    for _ in range(pairs):
        a = sphere_frame(units, 1, gen)[0]
        rows += [a, -a]
    if batch % 2:
        a, b = sphere_frame(units, 2, gen)
        rows += [a, -a / 2 + np.sqrt(3) / 2 * b, -a / 2 - np.sqrt(3) / 2 * b]
    return torch.stack(rows)


def affine_per_example(hat: torch.Tensor, gen: torch.Generator, shift: bool = True) -> torch.Tensor:
    """``h_b = o_b + s_b ĥ_b`` with random scales ``s ~ U(1, 2)`` and (``shift``) offsets ``o ~ N(0, 1)``: reading B
    removes both, reading A only the scales."""
    shape = hat.shape[:-1] + (1,)
    offsets = torch.randn(shape, generator=gen, dtype=tn.DTYPE)
    return (offsets if shift else 0) + (1 + torch.rand(shape, generator=gen, dtype=tn.DTYPE)) * hat


@dataclass(frozen=True)
class RegularizerBatch:
    """The configuration of the regularizer's identities (RN-identities, BU8): random batches ``B × M`` with
    ``B ≥ 2`` (the ``B = 1`` statements use one row) and ``M ≥ 3`` (the zero-batch-mean triple needs two directions
    ``⊥ 1``)."""

    batch: int = 4
    units: int = 16

    def __post_init__(self) -> None:
        check_int("batch", self.batch, 2)
        check_int("units", self.units, 3)

    def label(self) -> str:
        return f"B = {self.batch}, M = {self.units}"

    def describe(self) -> dict:
        return asdict(self)


def exact_value(quantity: str, relation: str, prediction: float, label: str, tol: float = FLOAT64_EXACT) -> Comparison:
    """A one-cell exact comparison of a float64 quantity of order one (the regularizer's identities: RN-identities,
    BU8), to :data:`randnet.roundoff.FLOAT64_EXACT` unless ``tol`` says otherwise."""
    return Comparison(quantity, relation, prediction, tol, "exact", label, cells=["value"], cell_name="")


def regularizer_identities(batch: int, units: int, gen: torch.Generator) -> dict[str, float]:
    """Both sides of the regularizer's identities (SPEC §4 RN, BU8) on a random batch ``h = o_b + s_b ξ_b`` (and its
    first row), on zero-batch-mean batches (per-example scales only for reading A, affine maps for B) and on a batch
    with a common offset 3: the quantities are 0 or 1 where the identity holds (see :mod:`theorems.rn`).

    ``t_b = μ_b/σ_b``: ``R_A = R_B + t̄²``; ``(1/M) Σ_i (m_i² + σ_{B,i}²) = 1`` (B), ``1 + mean_b t_b²`` (A);
    ``R_B ≤ sqrt(R_var)``, ``R_A − mean_b t_b² ≤ sqrt(R_var)``; ``B = 1``: ``R_B = 1``, ``R_A = 1 + t²``."""
    h = affine_per_example(torch.randn(batch, units, generator=gen, dtype=tn.DTYPE), gen)
    zero = zero_mean_batch(batch, units, gen)
    scaled, moved = affine_per_example(zero, gen, shift=False), affine_per_example(zero, gen)
    offset = 3 + torch.randn(batch, units, generator=gen, dtype=tn.DTYPE)
    t = h.mean(-1) / h.std(-1, unbiased=False)
    r = {k: float(regularizer(h, k)) for k in READINGS}
    power = {k: float((layer_standardize(h, k) ** 2).mean()) for k in READINGS}  # = (1/M) Σ_i (m_i² + σ_{B,i}²)
    r_var = {k: float(regularizer(h, k, batch_var=True)) for k in READINGS}
    one = h[:1]
    return dict(R_A=r["A"], R_B=r["B"], link=r["A"] - r["B"] - float(t.mean()) ** 2,
                R_A_zero=float(regularizer(scaled, "A")), R_B_zero=float(regularizer(moved, "B")),
                R_B_single=float(regularizer(one, "B")),
                R_A_single=float(regularizer(one, "A")) / (1 + float(t[0]) ** 2),
                power_B=power["B"], power_A=power["A"] - float((t ** 2).mean()),
                bound_B=r["B"] / math.sqrt(r_var["B"]),
                bound_A=(r["A"] - float((t ** 2).mean())) / math.sqrt(r_var["A"]),
                R_var_B_zero=float(regularizer(moved, "B", batch_var=True)), R_A_offset=float(regularizer(offset, "A")))


# -- Hessian spectra (BU9) -------------------------------------------------------------------------------------
def lanczos_extremes(loss: torch.Tensor, params: list[torch.Tensor], iterations: int,
                     gen: torch.Generator) -> np.ndarray:
    """Ritz values (ascending) of the Hessian of ``loss`` with respect to ``params`` after ``iterations`` Lanczos steps
    with full reorthogonalization, on Hessian-vector products by double backward (Ghorbani et al. 2019): they
    approximate the extreme eigenvalues, the outliers first."""
    grads = torch.autograd.grad(loss, params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])
    n = flat.numel()
    m = min(iterations, n)
    basis = torch.zeros(m, n, dtype=tn.DTYPE)
    q = torch.randn(n, generator=gen, dtype=tn.DTYPE)
    q = q / q.norm()
    alphas, betas = [], []
    for j in range(m):
        basis[j] = q
        hv = torch.cat([h.reshape(-1) for h in torch.autograd.grad(flat @ q, params, retain_graph=True)])
        alpha = float(hv @ q)
        hv = hv - basis[:j + 1].T @ (basis[:j + 1] @ hv)
        hv = hv - basis[:j + 1].T @ (basis[:j + 1] @ hv)   # twice is enough (Kahan–Parlett)
        alphas.append(alpha)
        beta = float(hv.norm())
        if j == m - 1 or beta < 1e-12 * max(1.0, abs(alpha)):
            break
        betas.append(beta)
        q = hv / beta
    t = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
    return np.linalg.eigvalsh(t)
