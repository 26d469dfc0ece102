"""EN1–EN5, EN7, EN12–EN15 — the exact identities of Extreme Normalization (SPEC-companions §7B.3).

- EN1  ``conv_circ(x − μ, W) = conv_circ(x, W) − μ·𝐖`` for channel-constant ``μ`` (per example or population);
       under zero padding it fails, and only at the border pixels (within ``K // 2`` of an edge).
- EN2  circular: ``E_ij conv(x, W) = μ_x·𝐖``, so ``E_n E_ij p = 0`` and the layer is population BN.
- EN3  BN's mean before or after the linear op: ``conv(x − mean_𝔅 x) = conv(x) − mean_𝔅 conv(x)`` (dense, circular).
- EN4  the inference fold ``φ(conv(x, K) − μ̄·Σ_ij K_ij + β)``, ``K = (W ⊙ γ/sqrt(ν̄)) R``, equals the training
       forward for any EMAs, padding and ``R``; controls: a fold forgetting ``R``; folding ``conv(x − μ̄, W)``.
- EN5  ``ScaleGrad(S, Q, r)``: forward ``S``, ``∂/∂Q = r``, ``∂/∂S = 0``.
- EN7  ν-gradient scaling is batch renormalization: ``x/sqrt(ScaleGrad(ν̄, ν_B, ν̄/ν_B))`` and
       ``x/sqrt(ν_B)·sg(sqrt(ν_B/ν̄))`` agree in value and in every gradient (and the subtractive analogue).
- EN12 the clip: ``E_ij q_b² ≤ u_max²`` for every example and channel.
- EN13 the normalized Sylvester–Hadamard matrix is orthogonal with ``max|R_ij| = 1/sqrt(C)``, the minimum over
       orthogonal matrices; a Haar rotation exceeds it; both preserve energy forward and backward.
- EN14 ``(S/Q_n)·∂Q_n/∂w`` is invariant under ``u_n → λ_n u_n`` (``x_n = w·u_n``, ``Q_n = x_n²``); ``E_n Q_n/S = 1``.
- EN15 ``E_S[(mean_S a)(mean_S b)] = ā b̄ + Cov_n(a, b)·(N − B)/(B (N − 1))``, in rational arithmetic.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction

import numpy as np
import torch

from randnet import DatasetSpec, child
from randnet.checks import check_int, check_number
from theorems import _extreme as ex
from theorems import _torchnets as tn
from theorems._common import DETERMINISTIC_REALIZATIONS
from theorems.base import Claim, Hypothesis, register

MU_KINDS = ("per example", "population")


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def _masked_error(diff: torch.Tensor, ref: torch.Tensor, mask: np.ndarray) -> float:
    """``‖diff‖ / ‖ref‖`` over the pixels where ``mask`` ``(H, W)`` holds."""
    m = torch.from_numpy(mask)
    return float(diff[:, m].norm() / ref[:, m].norm())


# -- EN1–EN3: the conv and mean subtraction --------------------------------------------------------------
@dataclass(frozen=True)
class ConvIdentityConfig:
    """A dataset (built-in, with per-channel offsets by default) and a random ``K × K`` conv to ``c_out``
    channels, ``W ~ N(0, 1/(K² C_in))``; ``minibatch``: the size of EN3's minibatch 𝔅; ``eps``: EN2's ε."""

    dataset: DatasetSpec = field(default_factory=lambda: DatasetSpec(n=16, height=12, width=12, channels=8))
    c_out: int = 16
    kernel_size: int = 3
    minibatch: int = 4
    eps: float = 1e-5

    def __post_init__(self) -> None:
        check_int("c_out", self.c_out)
        tn.check_odd_kernel(self.kernel_size)
        check_int("minibatch", self.minibatch)
        d = self.dataset
        if min(d.height, d.width) <= 2 * (self.kernel_size // 2):
            raise ValueError(f"the maps ({d.height}×{d.width}) need interior pixels farther than K // 2 = "
                             f"{self.kernel_size // 2} from every edge")
        if self.minibatch > d.n:
            raise ValueError(f"minibatch {self.minibatch} exceeds the dataset's N = {d.n}")

    def label(self) -> str:
        d = self.dataset
        return f"N {d.n}, {d.height}×{d.width}, C {d.channels}→{self.c_out}, K {self.kernel_size}, {d.name}"

    def describe(self) -> dict:
        return ex.jsonable({**asdict(self), "dataset": asdict(self.dataset)})


def conv_identity_configs(mode: str) -> list[ConvIdentityConfig]:
    """§7B's measured size, K = 5 and smooth fields; full: the paper-scale tensors (C up to 256, 35×35, N 512)."""
    configs = [ConvIdentityConfig(),
               ConvIdentityConfig(DatasetSpec("grf", n=8, height=9, width=11, channels=4), c_out=8, kernel_size=5)]
    if mode == "full":
        configs += [ConvIdentityConfig(DatasetSpec(n=512, height=35, width=35, channels=16), c_out=64, minibatch=32),
                    ConvIdentityConfig(DatasetSpec(n=32, height=35, width=35, channels=256), c_out=256)]
    return configs


def _conv_problem(config: ConvIdentityConfig, ss) -> tuple[torch.Tensor, torch.Tensor]:
    x = _tensor(config.dataset.draw(child(ss, 0)))
    return x, ex.random_kernel(config.kernel_size, x.shape[-1], config.c_out, tn.generator(child(ss, 1)))


def en1_measure(config: ConvIdentityConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per ``μ`` kind (per-example instance means, the population mean): the relative error of
    ``conv(x − μ, W)`` against ``conv(x, W) − μ·𝐖`` — circular; zero padding overall, on the interior pixels, on
    the border pixels; and the border's share of the zero-padding error energy."""
    with tn.single_thread():
        x, w = _conv_problem(config, ss)
        d = config.dataset
        border = ex.border_mask(d.height, d.width, config.kernel_size)
        out = {k: [] for k in ("circular", "zero", "zero_interior", "zero_border", "border_share")}
        for mu in (x.mean(dim=(1, 2)), x.mean(dim=(0, 1, 2))):
            shift = mu @ ex.kernel_sum(w)
            shift = shift[:, None, None, :] if shift.ndim == 2 else shift
            sub = x - (mu[:, None, None, :] if mu.ndim == 2 else mu)
            for padding in ex.PADDINGS:
                rhs = ex.conv(x, w, padding) - shift
                diff = ex.conv(sub, w, padding) - rhs
                if padding == "circular":
                    out["circular"].append(ex.rel_error(diff + rhs, rhs))
                    continue
                out["zero"].append(ex.rel_error(diff + rhs, rhs))
                out["zero_interior"].append(_masked_error(diff, rhs, ~border))
                out["zero_border"].append(_masked_error(diff, rhs, border))
                out["border_share"].append(float((diff[:, torch.from_numpy(border)] ** 2).sum() / (diff ** 2).sum()))
    return {k: np.array(v) for k, v in out.items()}


def en1_comparisons(config: ConvIdentityConfig) -> list:
    return [ex.exact("circular", "<=", 0.0, "circular: conv(x − μ, W) = conv(x, W) − μ·𝐖", MU_KINDS, "μ"),
            ex.exact("zero_interior", "<=", 0.0, "zero padding: the identity still holds on every interior pixel",
                     MU_KINDS, "μ"),
            ex.exact("border_share", "==", 1.0, "zero padding: all of the error sits on the border pixels "
                     "(within K // 2 of an edge)", MU_KINDS, "μ")]


def en1_negative_controls(config: ConvIdentityConfig) -> list:
    return [ex.exact("zero", "<=", 0.0, "false: the identity holds under zero padding", MU_KINDS, "μ"),
            ex.exact("zero_border", "<=", 0.0, "false: under zero padding it holds on the border pixels too",
                     MU_KINDS, "μ")]


def _circular_only(config) -> list[Hypothesis]:
    return [Hypothesis("circular padding (zero padding only in the negative controls)", True,
                       "each realization measures both paddings; the claim is judged on the circular one")]


register(Claim(
    key="EN1",
    title="Circular conv commutes with channel-constant subtraction; zero padding breaks it at the border only",
    statement="conv_circ(x − μ, W) = conv_circ(x, W) − μ·𝐖, 𝐖 = Σ_ij W_ij, for any channel-constant μ (per example "
              "or population). Under zero padding the identity fails, and only at pixels within K // 2 of an edge.",
    configs=conv_identity_configs, hypotheses=_circular_only, measure=en1_measure, comparisons=en1_comparisons,
    negative_controls=en1_negative_controls, reported=("zero", "zero_interior", "zero_border"),
    realizations=DETERMINISTIC_REALIZATIONS,
))


def en2_measure(config: ConvIdentityConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per padding (circular, zero): ``‖E_ij conv(x, W) − μ_x·𝐖‖/‖μ_x·𝐖‖`` (per-example means), the population
    mean of the normalized ``q = p/sqrt(ν)``, ``max_c |E_n E_ij p_c| / sqrt(E p_c²)``, and ``‖q − BN(conv(x, W))‖/‖q‖``
    with ``BN(h) = (h − E h)/sqrt(Var h + ε)``, from :func:`theorems._extreme.population_layer`."""
    with tn.single_thread():
        x, w = _conv_problem(config, ss)
        out = {}
        for padding in ex.PADDINGS:
            h = ex.conv(x, w, padding)
            commute = ex.rel_error(h.mean(dim=(1, 2)), x.mean(dim=(1, 2)) @ ex.kernel_sum(w))
            p, _, nu = ex.population_layer(x[None], w[None], config.eps, padding)
            p, q = p[0], p[0] / torch.sqrt(nu[0])
            mean_q = float((p.mean(dim=(0, 1, 2)).abs() / torch.sqrt((p ** 2).mean(dim=(0, 1, 2)))).max())
            bn = (h - h.mean(dim=(0, 1, 2))) / torch.sqrt(h.var(dim=(0, 1, 2), unbiased=False) + config.eps)
            suffix = "" if padding == "circular" else "_zero"
            out.update({f"commute{suffix}": np.array([commute]), f"mean_q{suffix}": np.array([mean_q]),
                        f"bn{suffix}": np.array([ex.rel_error(bn, q)])})
    return out


def en2_comparisons(config: ConvIdentityConfig) -> list:
    return [ex.exact("commute", "<=", 0.0, "circular: E_ij conv(x, W) = μ_x·𝐖", ["value"], ""),
            ex.exact("mean_q", "<=", 0.0, "circular: the population mean of p (and q) is zero in every channel",
                     ["value"], ""),
            ex.exact("bn", "<=", 0.0, "circular: ν = population variance + ε, the layer is population BN",
                     ["value"], "")]


def en2_negative_controls(config: ConvIdentityConfig) -> list:
    return [ex.exact("commute_zero", "<=", 0.0, "false: spatial means commute with a zero-padded conv", ["value"], ""),
            ex.exact("mean_q_zero", "<=", 0.0, "false: with zero padding, subtracting μ·𝐖 makes p zero-mean",
                     ["value"], "")]


register(Claim(
    key="EN2",
    title="Spatial means commute with the circular conv: p has zero population mean, the layer is population BN",
    statement="Under circular padding E_ij conv(x, W) = μ_x·𝐖, hence E_n E_ij p_n = 0 for every output channel and "
              "ν = population variance + ε: the layer of §7B.2 is population BN. With other paddings subtracting "
              "μ·𝐖 does not make the normalized activations zero-mean.",
    configs=conv_identity_configs, hypotheses=_circular_only, measure=en2_measure, comparisons=en2_comparisons,
    negative_controls=en2_negative_controls, reported=("commute_zero", "mean_q_zero", "bn_zero"),
    realizations=DETERMINISTIC_REALIZATIONS,
))

BATCHES = ("dataset", "minibatch", "dense layer")


def en3_measure(config: ConvIdentityConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``‖conv(x − mean_𝔅 x) − (conv(x) − mean_𝔅 conv(x))‖ / ‖·‖`` (mean over ``(n, i, j)`` of 𝔅) for 𝔅 the whole
    dataset and a random minibatch (circular and zero padding), and for a dense layer (``1 × 1``, every pixel an
    example)."""
    with tn.single_thread():
        x, w = _conv_problem(config, ss)
        rng = np.random.default_rng(child(ss, 2))
        mini = torch.from_numpy(np.sort(rng.choice(len(x), config.minibatch, replace=False)))
        dense_w = ex.random_kernel(1, x.shape[-1], config.c_out, tn.generator(child(ss, 3)))
        mean = lambda t: t.mean(dim=(0, 1, 2))  # noqa: E731
        out = {"circular": [], "zero": []}
        for padding in ex.PADDINGS:
            for xb in (x, x[mini]):
                h = ex.conv(xb, w, padding)
                out[padding].append(ex.rel_error(ex.conv(xb - mean(xb), w, padding), h - mean(h)))
        h = ex.conv(x, dense_w)
        out["circular"].append(ex.rel_error(ex.conv(x - mean(x), dense_w), h - mean(h)))
    return {k: np.array(v) for k, v in out.items()}


register(Claim(
    key="EN3",
    title="BN's mean before or after the linear op: equivalent for dense layers and circular convs",
    statement="conv(x − mean_𝔅 x, W) = conv(x, W) − mean_𝔅 conv(x, W), mean over the examples and positions of a "
              "batch 𝔅 (the dataset or a minibatch); exact for dense layers and circular convs, not zero padding.",
    configs=conv_identity_configs, hypotheses=_circular_only, measure=en3_measure,
    comparisons=lambda c: [ex.exact("circular", "<=", 0.0, "mean before = mean after (circular conv; dense layer)",
                                    BATCHES, "batch 𝔅")],
    negative_controls=lambda c: [ex.exact("zero", "<=", 0.0, "false: the same holds under zero padding",
                                          BATCHES[:2], "batch 𝔅")],
    reported=("zero",), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN4: the inference fold --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FoldConfig:
    """A net of Alg. 1 (the width a power of 2, for the Hadamard ``R``) and stale EMAs: ``μ̄ = μ + stale·|μ|·ξ``,
    ``ν̄ = ν·exp(stale·ξ')`` (``ξ, ξ' ~ N(0, 1)``) around the population statistics ``μ, ν``."""

    net: ex.ENNet = field(default_factory=lambda: ex.ENNet(DatasetSpec(n=8, height=8, width=8, channels=3),
                                                           depth=2, width=16))
    stale: float = 0.5

    def __post_init__(self) -> None:
        if self.net.width & (self.net.width - 1):
            raise ValueError(f"EN4 compares R ∈ {ex.ROTATIONS}: the width must be a power of 2, got {self.net.width}")
        check_number("stale", self.stale)

    def label(self) -> str:
        return f"{self.net.label(rotation=False)}, stale EMAs ({self.stale:g})"

    def describe(self) -> dict:
        return {"net": self.net.describe(), "stale": self.stale}


def fold_configs(mode: str) -> list[FoldConfig]:
    data = DatasetSpec(n=8, height=8, width=8, channels=3) if mode == "quick" else \
        DatasetSpec(n=64, height=35, width=35, channels=3)
    width, depth = (16, 2) if mode == "quick" else (64, 4)
    return [FoldConfig(ex.ENNet(data, depth=depth, width=width, padding=p)) for p in ex.PADDINGS] + (
        [FoldConfig(ex.ENNet(data, depth=depth, width=width, padding="zero", kernel_size=5), stale=0.0)]
        if mode == "full" else [])


def stale_ema(problem: ex.Problem, stale: float, gen: torch.Generator) -> list:
    """EMAs around the population statistics (see :class:`FoldConfig`)."""
    out = []
    for mu, nu in ex.oracle_ema(problem):
        out.append((mu + stale * mu.abs() * torch.randn(mu.shape, generator=gen, dtype=ex.DTYPE),
                    nu * torch.exp(stale * torch.randn(nu.shape, generator=gen, dtype=ex.DTYPE))))
    return out


def _layers_error(a: list, b: list) -> float:
    """The largest relative error over the layers' outputs."""
    return max(ex.rel_error(u, v) for u, v in zip(a, b))


def en4_measure(config: FoldConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per ``R`` (:data:`theorems._extreme.ROTATIONS`): the largest relative error over the layers of the fold
    against tower 1's training forward values; of the fold that forgets ``R`` (Hadamard, Haar); and of the fold
    against the training graph with true mean subtraction ``conv(x − μ̄, W)``."""
    with tn.single_thread(), torch.no_grad():
        base = ex.draw_problem(config.net, ss)
        out = {"fold": [], "forget_rotation": [], "true_mean": []}
        for i, kind in enumerate(ex.ROTATIONS):
            pb = base.with_rotation(kind, tn.generator(child(ss, 10 + i)))
            ema = stale_ema(pb, config.stale, tn.generator(child(ss, 20 + i)))
            train, fold = ex.training_forward_values(pb, ema), ex.inference_forward(pb, ema)
            out["fold"].append(_layers_error(fold, train))
            out["true_mean"].append(_layers_error(fold, ex.training_forward_values(pb, ema, true_mean=True)))
            if kind != "identity":
                out["forget_rotation"].append(_layers_error(ex.inference_forward(pb, ema, forget_rotation=True), train))
    return {k: np.array(v) for k, v in out.items()}


def en4_comparisons(config: FoldConfig) -> list:
    out = [ex.exact("fold", "<=", 0.0, "ConvLayer_Inference = training forward φ((γ ⊙ q) R + β), any EMAs",
                    ex.ROTATIONS, "R")]
    if config.net.padding == "circular":
        out.append(ex.exact("true_mean", "<=", 0.0, "circular: folding conv(x − μ̄, W) coincides with the fold (EN1)",
                            ex.ROTATIONS, "R"))
    return out


def en4_negative_controls(config: FoldConfig) -> list:
    out = [ex.exact("forget_rotation", "<=", 0.0, "false: a fold that forgets R is exact", ex.ROTATIONS[1:], "R")]
    if config.net.padding == "zero":
        out.append(ex.exact("true_mean", "<=", 0.0, "false: under zero padding a training graph with true mean "
                            "subtraction conv(x − μ̄, W) folds the same way", ex.ROTATIONS, "R"))
    return out


register(Claim(
    key="EN4",
    title="The inference fold is exact: the function class is unchanged",
    statement="For any EMAs (stale ones included), any padding and any fixed rotation R, with the clip inactive: "
              "φ(conv(x, K) − μ̄·Σ_ij K_ij + β), K = (W ⊙ γ/sqrt(ν̄)) R, equals the training forward value "
              "φ((γ ⊙ q) R + β), q = (conv(x, W) − μ̄·𝐖)/sqrt(ν̄) — because training subtracts μ̄·𝐖 after the conv.",
    configs=fold_configs, hypotheses=lambda c: [Hypothesis("clip inactive (u_max = ∞)", True, "tower 1 without clip")],
    measure=en4_measure, comparisons=en4_comparisons, negative_controls=en4_negative_controls,
    reported=("fold", "forget_rotation", "true_mean"), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN5: ScaleGrad --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaleGradConfig:
    """``S = ν̄ > 0`` ``(C,)``, ``Q = ν_b > 0`` ``(B, C)``, ``r = min(S/Q, f_max)`` computed *from* ``S, Q`` (so a
    missing ``sg`` would leak gradient), a random upstream."""

    batch: int = 16
    channels: int = 8
    f_max: float = 2.0

    def __post_init__(self) -> None:
        check_int("batch", self.batch)
        check_int("channels", self.channels)
        check_number("f_max", self.f_max, strict=True)

    def label(self) -> str:
        return f"B {self.batch}, C {self.channels}, r = min(S/Q, {self.f_max:g})"

    def describe(self) -> dict:
        return asdict(self)


def returns_q(s, q, r):
    """The negative control's ScaleGrad, which returns ``Q`` in the forward pass: ``sg(r)·Q``."""
    return r.detach() * q


def en5_measure(config: ScaleGradConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``max |ScaleGrad − S|/|S|`` (and in units of ``S``'s ulp), ``‖∂/∂Q − r·u‖/‖r·u‖``, ``‖∂/∂S‖`` (None: 0) for
    :func:`theorems._extreme.scale_grad`; the forward error of :func:`returns_q` (the control)."""
    with tn.single_thread():
        gen = tn.generator(ss)
        s = (0.5 + torch.rand(config.channels, generator=gen, dtype=ex.DTYPE)).requires_grad_()
        q = (0.25 + 2 * torch.rand(config.batch, config.channels, generator=gen, dtype=ex.DTYPE)).requires_grad_()
        u = torch.randn(config.batch, config.channels, generator=gen, dtype=ex.DTYPE)
        r = torch.clamp(s / q, max=config.f_max)
        out = ex.scale_grad(s, q, r)
        ds, dq = torch.autograd.grad((u * out).sum(), [s, q], allow_unused=True)
        err = (out - s).abs().detach()
        ulp = torch.from_numpy(np.spacing(s.detach().numpy()))
        control = (returns_q(s, q, r) - s).abs().detach()
        return {"forward": np.array([float((err / s.detach()).max())]),
                "forward_ulps": np.array([float((err / ulp).max())]),
                "dq": np.array([ex.rel_error(dq, r.detach() * u)]),
                "ds": np.array([0.0 if ds is None else float(ds.norm())]),
                "forward_control": np.array([float((control / s.detach()).max())])}


register(Claim(
    key="EN5",
    title="ScaleGrad(S, Q, r) = sg(r)·Q + sg(S − r·Q): forward S, backward r·upstream into Q, nothing into S",
    statement="The forward value equals S up to one rounding; ∂/∂Q = r·upstream exactly; ∂/∂S = 0 (also when r is "
              "computed from S and Q, as ν-scaling's min(ν̄/ν, f_max) is).",
    configs=lambda mode: [ScaleGradConfig()] + ([ScaleGradConfig(512, 256, 8.0)] if mode == "full" else []),
    hypotheses=lambda c: [], measure=en5_measure,
    comparisons=lambda c: [ex.exact("forward", "<=", 0.0, "forward value = S", ["value"], ""),
                           ex.exact("dq", "<=", 0.0, "∂/∂Q = r · upstream", ["value"], ""),
                           ex.exact("ds", "<=", 0.0, "∂/∂S = 0", ["value"], "", tolerance=0.0)],
    negative_controls=lambda c: [ex.exact("forward_control", "<=", 0.0, "false: an implementation returning Q in "
                                          "the forward pass has the same forward value", ["value"], "")],
    reported=("forward_ulps",), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN7: ν-gradient scaling is batch renormalization ---------------------------------------------------------
@dataclass(frozen=True)
class RenormConfig:
    """A batch ``x`` ``(B, C)`` with offsets, its statistics ``ν_B = E_b x²``, ``μ_B = E_b x``; stale EMAs
    ``ν̄ = ν_B·exp(stale·ξ)``, ``μ̄ = μ_B + stale·ξ'``; ``upstreams`` random upstream gradients."""

    batch: int = 8
    channels: int = 16
    upstreams: int = 3
    stale: float = 0.5

    def __post_init__(self) -> None:
        for name in ("batch", "channels", "upstreams"):
            check_int(name, getattr(self, name))
        check_number("stale", self.stale)

    def label(self) -> str:
        return f"B {self.batch}, C {self.channels}, {self.upstreams} upstreams, stale {self.stale:g}"

    def describe(self) -> dict:
        return asdict(self)


def en7_measure(config: RenormConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Forward and gradient (per upstream) relative errors of ScaleGrad with ν-scaling (``f_max = ∞``, ``r_v = 1``)
    against batch renorm's divisive form, of the subtractive pair, and of unscaled ScaleGrad (the control)."""
    with tn.single_thread():
        gen = tn.generator(ss)
        x = (torch.randn(config.batch, config.channels, generator=gen, dtype=ex.DTYPE)
             + torch.randn(config.channels, generator=gen, dtype=ex.DTYPE)).requires_grad_()
        nu_b, mu_b = (x ** 2).mean(dim=0), x.mean(dim=0)
        nu_bar = nu_b.detach() * torch.exp(config.stale * torch.randn(config.channels, generator=gen, dtype=ex.DTYPE))
        mu_bar = mu_b.detach() + config.stale * torch.randn(config.channels, generator=gen, dtype=ex.DTYPE)
        scaled, unscaled = ex.Modifiers(f_max=math.inf), ex.Modifiers(nu_scaling=False)
        forms = {
            "scaled": x / torch.sqrt(ex.scale_grad(nu_bar, nu_b, scaled.nu_factor(nu_bar, nu_b))),
            "renorm": x / torch.sqrt(nu_b) * torch.sqrt(nu_b / nu_bar).detach(),
            "unscaled": x / torch.sqrt(ex.scale_grad(nu_bar, nu_b, unscaled.nu_factor(nu_bar, nu_b))),
            "sub_scalegrad": x - ex.scale_grad(mu_bar, mu_b, 1.0),
            "sub_renorm": x - mu_b + (mu_b - mu_bar).detach(),
        }
        grads = {k: [] for k in forms}
        for _ in range(config.upstreams):
            u = torch.randn(config.batch, config.channels, generator=gen, dtype=ex.DTYPE)
            for k, y in forms.items():
                grads[k].append(torch.autograd.grad((u * y).sum(), x, retain_graph=True)[0])
        err = lambda a, b: np.array([ex.rel_error(g, h) for g, h in zip(grads[a], grads[b])])  # noqa: E731
        return {"forward": np.array([ex.rel_error(forms["scaled"], forms["renorm"]),
                                     ex.rel_error(forms["sub_scalegrad"], forms["sub_renorm"])]),
                "gradient": err("scaled", "renorm"), "gradient_subtractive": err("sub_scalegrad", "sub_renorm"),
                "gradient_unscaled": err("unscaled", "renorm")}


def _upstreams(config: RenormConfig) -> list[int]:
    return list(range(1, config.upstreams + 1))


register(Claim(
    key="EN7",
    title="ν-gradient scaling reproduces batch renormalization (values and every gradient)",
    statement="With f_max ≥ ν̄/ν_B and r_v = 1, y = x/sqrt(ScaleGrad(ν̄, ν_B, ν̄/ν_B)) and the batch-renorm form "
              "y = x/sqrt(ν_B)·sg(sqrt(ν_B/ν̄)) have identical forward values and gradients for every upstream loss "
              "(both give ∂y/∂ν_B = −½ x ν̄^{−1/2} ν_B^{−1}); likewise x − ScaleGrad(μ̄, μ_B, 1) and "
              "x − μ_B + sg(μ_B − μ̄).",
    configs=lambda mode: [RenormConfig()] + ([RenormConfig(256, 256, 8, 1.0)] if mode == "full" else []),
    hypotheses=lambda c: [Hypothesis("f_max ≥ ν̄/ν_B, r_v = 1", True, "f_max = ∞")], measure=en7_measure,
    comparisons=lambda c: [
        ex.exact("forward", "<=", 0.0, "equal forward values", ["divisive", "subtractive"], "form"),
        ex.exact("gradient", "<=", 0.0, "equal gradients (divisive)", _upstreams(c), "upstream"),
        ex.exact("gradient_subtractive", "<=", 0.0, "equal gradients (subtractive)", _upstreams(c), "upstream")],
    negative_controls=lambda c: [ex.exact("gradient_unscaled", "<=", 0.0, "false: unscaled ScaleGrad (no ν̄/ν_B) "
                                          "has batch renorm's gradients", _upstreams(c), "upstream")],
    reported=("gradient_unscaled",), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN12: the activation clip ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipConfig:
    """A net of Alg. 1, oracle EMAs of its clean data, then example 0 scaled by ``outlier``: the clip ``u_max``
    must keep every ``E_ij q_b²`` at most ``u_max²`` in tower 1, in E3's ‡ layers and in tower 2."""

    net: ex.ENNet = field(default_factory=lambda: ex.ENNet(DatasetSpec(n=16, height=8, width=8, channels=3)))
    u_max: float = 5.0
    outlier: float = 20.0

    def __post_init__(self) -> None:
        check_number("u_max", self.u_max, strict=True)
        check_number("outlier", self.outlier, strict=True)

    def label(self) -> str:
        return f"{self.net.label()}, u_max {self.u_max:g}, outlier ×{self.outlier:g}"

    def describe(self) -> dict:
        return {"net": self.net.describe(), "u_max": self.u_max, "outlier": self.outlier}


TOWERS = ("dagger", "ddagger", "towers")
TOWER_LABELS = ("tower 1 (†)", "E3 (‡)", "tower 2 (E5)")


def en12_measure(config: ClipConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per forward (tower 1, ‡, tower 2): ``max_{l, b, c} E_ij (q^l_b)² / u_max²`` with the clip and without it."""
    with tn.single_thread(), torch.no_grad():
        pb = ex.draw_problem(config.net, ss)
        ema = ex.oracle_ema(pb)
        x = pb.x.clone()
        x[0] *= config.outlier
        pb = replace(pb, x=x)
        idx = torch.arange(pb.n)[None]
        out = {"clipped": [], "unclipped": []}
        for name, u_max in (("clipped", config.u_max), ("unclipped", math.inf)):
            for kind in TOWERS:
                qs: list = []
                ex.tower_forward(pb, pb.theta, idx, ema, ex.Modifiers(u_max=u_max), kind, record=qs)
                out[name].append(max(float((q ** 2).mean(dim=(2, 3)).max()) for q in qs) / config.u_max ** 2)
    return {k: np.array(v) for k, v in out.items()}


register(Claim(
    key="EN12",
    title="The activation clip keeps every per-example second moment at most u_max²",
    statement="With clip_b = sg(min(1, u_max·sqrt(ν̄/ν_b))): E_ij q_b² ≤ u_max² for every example b, channel and "
              "layer (E_ij q_b² = (ν_b − ε)/ν̄ · min(1, u_max² ν̄/ν_b)), in both towers.",
    configs=lambda mode: [ClipConfig()] + ([ClipConfig(ex.ENNet(DatasetSpec(n=128, height=16, width=16, channels=3),
                                                                depth=6, width=64), outlier=100.0)]
                                           if mode == "full" else []),
    hypotheses=lambda c: [], measure=en12_measure,
    comparisons=lambda c: [ex.exact("clipped", "<=", 1.0, "max E_ij q² / u_max² ≤ 1 with the clip", TOWER_LABELS,
                                    "forward")],
    negative_controls=lambda c: [ex.exact("unclipped", "<=", 1.0, "false: without the clip an outlier example also "
                                          "stays below u_max²", TOWER_LABELS, "forward")],
    reported=("clipped", "unclipped"), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN13: rotations ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RotationConfig:
    """Sizes ``C`` (powers of 2) and a batch of ``rows`` channel vectors for the energy checks."""

    sizes: tuple[int, ...] = (2, 4, 8, 16, 32, 64)
    rows: int = 8

    def __post_init__(self) -> None:
        for c in self.sizes:
            check_int("sizes", c, 2)
            if c & (c - 1):
                raise ValueError(f"EN13 sizes must be powers of 2 (Sylvester–Hadamard), got {c}")
        check_int("rows", self.rows)

    def label(self) -> str:
        return f"C ∈ {{{', '.join(map(str, self.sizes))}}}"

    def describe(self) -> dict:
        return ex.jsonable(asdict(self))


def en13_measure(config: RotationConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per ``C``, for the Hadamard and a Haar rotation: ``max|R Rᵀ − I|``, ``max|R_ij|·sqrt(C)``, and the energy
    errors ``|‖vR‖/‖v‖ − 1|`` (forward) and ``|‖∂(u·vR)/∂v‖/‖u‖ − 1|`` (backward), worst over the rows."""
    with tn.single_thread():
        gen = tn.generator(ss)
        out = {f"{k}_{q}": [] for k in ("hadamard", "haar") for q in ("orthogonality", "max_entry", "energy")}
        for c in config.sizes:
            v = torch.randn(config.rows, c, generator=gen, dtype=ex.DTYPE, requires_grad=True)
            u = torch.randn(config.rows, c, generator=gen, dtype=ex.DTYPE)
            for kind in ("hadamard", "haar"):
                r = ex.rotation(kind, c, gen)
                out[f"{kind}_orthogonality"].append(float((r @ r.T - torch.eye(c, dtype=ex.DTYPE)).abs().max()))
                out[f"{kind}_max_entry"].append(float(r.abs().max()) * math.sqrt(c))
                (dv,) = torch.autograd.grad((u * (v @ r)).sum(), v)
                forward = ((v @ r).norm(dim=1) / v.norm(dim=1) - 1).abs().max().detach()
                backward = (dv.norm(dim=1) / u.norm(dim=1) - 1).abs().max()
                out[f"{kind}_energy"].append(float(max(forward, backward)))
    return {k: np.array(v) for k, v in out.items()}


def en13_comparisons(config: RotationConfig) -> list:
    s = config.sizes
    return [ex.exact("hadamard_orthogonality", "<=", 0.0, "Hadamard: R Rᵀ = I", s, "C"),
            ex.exact("hadamard_max_entry", "==", 1.0, "Hadamard: max|R_ij| = 1/sqrt(C)", s, "C"),
            ex.exact("haar_orthogonality", "<=", 0.0, "Haar: R Rᵀ = I", s, "C"),
            ex.exact("haar_max_entry", ">=", 1.0, "every orthogonal R has max|R_ij| ≥ 1/sqrt(C) (unit rows)", s, "C"),
            ex.exact("hadamard_energy", "<=", 0.0, "Hadamard preserves energy forward and backward", s, "C"),
            ex.exact("haar_energy", "<=", 0.0, "Haar preserves energy forward and backward", s, "C")]


register(Claim(
    key="EN13",
    title="The Hadamard rotation has the smallest largest entry among orthogonal matrices, 1/sqrt(C)",
    statement="The normalized Sylvester–Hadamard matrix (C a power of 2) is orthogonal with max|R_ij| = 1/sqrt(C), "
              "the minimum over orthogonal matrices (unit rows); a Haar rotation has max|R_ij| > 1/sqrt(C) almost "
              "surely; both preserve energy forward and backward.",
    configs=lambda mode: [RotationConfig()] + ([RotationConfig((128, 256, 512, 1024), 64)] if mode == "full" else []),
    hypotheses=lambda c: [], measure=en13_measure, comparisons=en13_comparisons,
    negative_controls=lambda c: [ex.exact("haar_max_entry", "<=", 1.0, "false: the Haar rotation attains 1/sqrt(C)",
                                          c.sizes, "C")],
    reported=("haar_max_entry",), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN14: second-moment gradient scaling ---------------------------------------------------------------------
@dataclass(frozen=True)
class MomentScalingConfig:
    """``n`` examples; dense: ``x_n = w·u_n`` with ``u_n ∈ R^d``; conv: ``Q_b = E_ij conv(x_b, W)²`` per channel on
    ``size × size × channels`` inputs with ``c_out`` outputs. Scales ``λ_n = ±U(1/λ_max, λ_max)``."""

    n: int = 16
    d: int = 8
    size: int = 6
    channels: int = 3
    c_out: int = 4
    lambda_max: float = 30.0

    def __post_init__(self) -> None:
        for name in ("n", "d", "size", "channels", "c_out"):
            check_int(name, getattr(self, name))
        check_number("lambda_max", self.lambda_max, 1.0, strict=True)

    def label(self) -> str:
        return f"N {self.n}, d {self.d}; conv {self.size}×{self.size}×{self.channels}→{self.c_out}; λ up to " \
               f"{self.lambda_max:g}"

    def describe(self) -> dict:
        return asdict(self)


def _per_example_jacobians(q: torch.Tensor, s: torch.Tensor, w: torch.Tensor, scaled: bool) -> list[torch.Tensor]:
    """``∂/∂w Σ_c ScaleGrad(S, Q_n, S/Q_n)_c`` per example ``n`` (``scaled``), else ``∂/∂w Σ_c Q_{n,c}``."""
    node = ex.scale_grad(s, q, ex.Modifiers(f_max=math.inf).nu_factor(s, q)) if scaled else q
    return [torch.autograd.grad(node[n].sum(), w, retain_graph=True)[0] for n in range(len(q))]


def en14_measure(config: MomentScalingConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Dense and conv: the worst relative change of the scaled per-example gradient ``(S/Q_n)·∂Q_n/∂w`` under
    ``u_n → λ_n u_n`` and of the unscaled ``∂Q_n/∂w`` (the control); ``|E_n Q_n/S − 1|`` with ``S = E_n Q_n``."""
    with tn.single_thread():
        gen = tn.generator(ss)
        n = config.n
        lam = 1 / config.lambda_max + (config.lambda_max - 1 / config.lambda_max) * torch.rand(
            n, generator=gen, dtype=ex.DTYPE)
        lam = lam * torch.where(torch.rand(n, generator=gen, dtype=ex.DTYPE) < 0.5, -1.0, 1.0)
        w = torch.randn(config.d, generator=gen, dtype=ex.DTYPE, requires_grad=True)
        u = torch.randn(n, config.d, generator=gen, dtype=ex.DTYPE)
        kernel = ex.random_kernel(3, config.channels, config.c_out, gen).requires_grad_()
        x = torch.randn(n, config.size, config.size, config.channels, generator=gen, dtype=ex.DTYPE) + 1.0
        zero = torch.zeros(1, config.channels, dtype=ex.DTYPE)

        def dense(v):
            return ((v @ w) ** 2)[:, None]

        def conv_q(v):
            return ex.centered(v[None], kernel[None], zero, 0.0)[1][0]

        out = {"scaled": [], "unscaled": [], "mean_ratio": []}
        for q_of, inputs, param in ((dense, u, w), (conv_q, x, kernel)):
            q0 = q_of(inputs)
            s = q0.mean(dim=0).detach()
            out["mean_ratio"].append(float(((q0 / s).mean(dim=0) - 1).abs().max().detach()))
            scaled_inputs = inputs * lam.reshape(-1, *([1] * (inputs.ndim - 1)))
            for key, scaled in (("scaled", True), ("unscaled", False)):
                a = _per_example_jacobians(q0, s, param, scaled)
                b = _per_example_jacobians(q_of(scaled_inputs), s, param, scaled)
                out[key].append(max(ex.rel_error(j, i) for i, j in zip(a, b)))
    return {k: np.array(v) for k, v in out.items()}


register(Claim(
    key="EN14",
    title="Second-moment gradient scaling makes the per-example Jacobian scale-free",
    statement="For x_n = w·u_n, Q_n = x_n² and S fixed, (S/Q_n)·∂Q_n/∂w is invariant under u_n → λ_n u_n (so is "
              "ScaleGrad(S, Q_b, S/Q_b) of a conv layer's per-example second moments under x_b → λ_b x_b), and "
              "E_n[Q_n/S] = 1 for S = E_n Q_n; the unscaled ∂Q_n/∂w scales by λ_n².",
    configs=lambda mode: [MomentScalingConfig()] + ([MomentScalingConfig(64, 256, 16, 16, 32, 100.0)]
                                                    if mode == "full" else []),
    hypotheses=lambda c: [Hypothesis("the ν-scaling cap f_max is not reached", True, "f_max = ∞")],
    measure=en14_measure,
    comparisons=lambda c: [ex.exact("scaled", "<=", 0.0, "(S/Q_n)·∂Q_n/∂w is invariant under u_n → λ_n u_n",
                                    ["dense", "conv"], "layer"),
                           ex.exact("mean_ratio", "<=", 0.0, "E_n[Q_n/S] = 1", ["dense", "conv"], "layer")],
    negative_controls=lambda c: [ex.exact("unscaled", "<=", 0.0, "false: the unscaled ∂Q_n/∂w is invariant too",
                                          ["dense", "conv"], "layer")],
    reported=("unscaled",), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN15: products of minibatch averages, in rational arithmetic -----------------------------------------------
@dataclass(frozen=True)
class ProductBiasConfig:
    """``n`` per-example integer pairs ``(a_n, b_n)`` in ``[−spread, spread]`` (``b`` correlated with ``a``); every
    subset of every size enumerated, in ``fractions.Fraction``."""

    n: int = 10
    spread: int = 10

    def __post_init__(self) -> None:
        check_int("n", self.n, 2)
        check_int("spread", self.spread)
        if self.n > 16:
            raise ValueError(f"EN15 enumerates all 2^N subsets: N must be at most 16, got {self.n}")

    def label(self) -> str:
        return f"N {self.n}, integers in [−{self.spread}, {self.spread}], all 2^{self.n} − 1 subsets"

    def describe(self) -> dict:
        return asdict(self)


def product_of_means(a: list[int], b: list[int], size: int) -> Fraction:
    """``E_S[(mean_S a)(mean_S b)]`` over every ``size``-subset, exactly."""
    total, count = Fraction(0), 0
    for s in itertools.combinations(range(len(a)), size):
        total += Fraction(sum(a[i] for i in s) * sum(b[i] for i in s), size * size)
        count += 1
    return total / count


def en15_measure(config: ProductBiasConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per ``B = 1 … N``: the residual ``E_S[(mean_S a)(mean_S b)] − ā b̄ − Cov(a, b)·(N − B)/(B (N − 1))`` and the
    bias ``E_S[…] − ā b̄`` (exact rationals, then float; ``bias_below_n``: ``B < N``); ``Cov(a, b)`` (1/N)."""
    rng = np.random.default_rng(ss)
    n, k = config.n, config.spread
    while True:
        a = rng.integers(-k, k + 1, n).tolist()
        b = [int(v) for v in np.clip(np.array(a) + rng.integers(-k, k + 1, n), -k, k)]
        mean_a, mean_b = Fraction(sum(a), n), Fraction(sum(b), n)
        cov = Fraction(sum(x * y for x, y in zip(a, b)), n) - mean_a * mean_b
        if cov != 0:  # a zero covariance makes the product unbiased: redraw (deterministically)
            break
    residual, bias = [], []
    for size in range(1, n + 1):
        e = product_of_means(a, b, size)
        residual.append(float(e - mean_a * mean_b - cov * ex.without_replacement_factor(n, size)))
        bias.append(float(e - mean_a * mean_b))
    return {"residual": np.array(residual), "bias": np.array(bias), "bias_below_n": np.array(bias[:-1]),
            "cov": np.array([float(cov)]),
            "bias_minus_cov": np.array([bias[0] - float(cov)])}


def _sizes(config: ProductBiasConfig) -> list[int]:
    return list(range(1, config.n + 1))


register(Claim(
    key="EN15",
    title="Products of minibatch-averaged Jacobians are biased by Cov·(N − B)/(B(N − 1))",
    statement="For per-example scalars a_n, b_n and uniform B-subsets without replacement, E_S[(mean_S a)(mean_S b)] "
              "= ā b̄ + Cov_n(a, b)·(N − B)/(B (N − 1)) (Cov with 1/N): at B = 1 the bias is Cov(a, b), at B = N "
              "zero. Checked in exact rational arithmetic over every subset.",
    configs=lambda mode: [ProductBiasConfig()] + ([ProductBiasConfig(14, 1000)] if mode == "full" else []),
    hypotheses=lambda c: [Hypothesis("Cov_n(a, b) ≠ 0", True, "redrawn until nonzero")], measure=en15_measure,
    comparisons=lambda c: [
        ex.exact("residual", "==", 0.0, "E_S[(mean_S a)(mean_S b)] = ā b̄ + Cov·(N − B)/(B(N − 1)), exactly",
                 _sizes(c), "B", tolerance=0.0),
        ex.exact("bias_minus_cov", "==", 0.0, "B = 1: the bias is Cov(a, b)", ["B = 1"], "", tolerance=0.0)],
    negative_controls=lambda c: [ex.exact("bias_below_n", "==", 0.0, "false: the product of minibatch averages is "
                                          "unbiased",
                                          _sizes(c)[:-1], "B", tolerance=0.0)],
    reported=("bias", "cov"), realizations=DETERMINISTIC_REALIZATIONS,
))
