"""The random net of Definition 1 and its streaming forward pass.

For ``l = 1 … L``:

    x^l = ω^l ⊛ z^{l−1}                  (periodic conv, Eq. 2; a norm that centres its input — PreLN —
                                          convolves z^{l−1} − μ_x(z^{l−1}) instead, SPEC-companions §7A.2)
    y^l = (x^l − μ(x^l)) / σ(x^l)         (normalization, Eq. 3)
    z^l = φ(γ^l ⊙ y^l + β^l)              (activation, Eq. 4)   or Proxy Norm's Eq. 7 for ``+pn``

Seeding: realization ``k`` of run seed ``s`` is ``SeedSequence(s, spawn_key=(k,))``; inside it
the dataset uses child 0 and layer ``l`` child ``l`` (:func:`child`), so every layer's
parameters are drawn independently of how many layers or realizations are run and the
parameters are sampled lazily, one layer at a time: memory does not grow with depth.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .activations import get_activation
from .config import NetConfig
from .conv import periodic_conv
from .datasets import check_scale
from .kernels import InstanceMoments, layer_moments, normalize_activate
from .proxy import proxy_statistics
from .norms import centre_input, centres_input, weight_standardize
from .stats import channel_moments, input_moments, linearity_residual, power_decomposition, power_terms


def realization_seed(seed: int, k: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of realization ``k`` of a run seeded with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(k,))


def child(ss: np.random.SeedSequence, j: int) -> np.random.SeedSequence:
    """The ``j``-th child of ``ss``, stateless (the same as ``ss.spawn(j + 1)[j]`` on a fresh ``ss``)."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (j,))


@dataclass(frozen=True)
class LayerParams:
    """ω^l of shape (K, K, C^{l−1}, C^l), already scaled by 1/sqrt(K² C^{l−1}); γ^l, β^l of shape (C^l,)."""

    weight: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Layer:
    """The tensors of layer ``index``: conv output ``x``, normalized ``y``, activation output ``z``.

    ``moments``: their instance moments, computed by :func:`forward` in the same pass as ``y`` and ``z``
    (None for a Layer built elsewhere: :func:`layer_statistics` then computes them).
    """

    index: int
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    params: LayerParams
    moments: InstanceMoments | None = field(default=None, repr=False, compare=False)


def sample_layer(config: NetConfig, ss: np.random.SeedSequence, l: int, in_channels: int) -> LayerParams:
    """Draw ω^l, γ^l, β^l of layer ``l`` (1-based) from ``child(ss, l)``."""
    rng = np.random.default_rng(child(ss, l))
    k, cout = config.kernel_size, config.widths[l - 1]
    w = config.weight.sample(rng, (k, k, in_channels, cout)) / np.sqrt(k * k * in_channels)
    gamma = config.gamma.sample(rng, (cout,))
    beta = config.beta.sample(rng, (cout,))
    dt = config.np_dtype
    return LayerParams(w.astype(dt), gamma.astype(dt), beta.astype(dt))


def conv_weight(config: NetConfig, params: LayerParams) -> np.ndarray:
    """The kernel the conv of Eq. 2 applies: ``ω^l``, or for ``+ws`` its weight standardization rescaled to fan-in."""
    w = params.weight
    if config.weight_standardized:
        w = (weight_standardize(w) / np.sqrt(w.shape[0] * w.shape[1] * w.shape[2])).astype(config.np_dtype)
    return w


def draw_data(config: NetConfig, ss: np.random.SeedSequence) -> np.ndarray:
    """The dataset of this realization (child 0 of ``ss`` when it is redrawn)."""
    return config.dataset.draw(child(ss, 0))


def data_assumption(data: np.ndarray) -> tuple[bool, str]:
    """Definition 1 (i): no input identically zero."""
    zero = np.flatnonzero(~np.any(data.reshape(len(data), -1) != 0, axis=1))
    return len(zero) == 0, ("no input is identically zero" if len(zero) == 0
                            else f"inputs {zero[:5].tolist()} are identically zero")


def forward(config: NetConfig, ss: np.random.SeedSequence, data: np.ndarray | None = None) -> Iterator[Layer]:
    """Stream the layers of one realization; each :class:`Layer` is released when the caller drops it.

    The conv is :func:`randnet.periodic_conv` (of the input centred over ``(h, w, c)`` when the norm centres its
    input, :func:`randnet.norms.centres_input`); the normalization, affine step, activation (or Proxy Norm)
    and the layer's instance moments are one fused pass (:func:`randnet.kernels.normalize_activate`).
    ``config.backend == "torch"`` runs :func:`randnet.torchnet.forward` instead (the same net, on a torch device).
    """
    dt = config.np_dtype
    data = draw_data(config, ss) if data is None else data
    check_scale(data, dt, "the data" if config.dataset.path is None else config.dataset.path)
    if config.backend == "torch":
        from .torchnet import forward as torch_forward

        yield from torch_forward(config, ss, data)
        return
    act = get_activation(config.activation)
    z = np.ascontiguousarray(data.astype(dt))
    centring = centres_input(config.base_norm)
    for l in range(1, config.depth + 1):
        p = sample_layer(config, ss, l, z.shape[-1])
        try:
            x = periodic_conv(centre_input(z) if centring else z, conv_weight(config, p))
            if l == 1 and config.first_stride == 2:
                x = np.ascontiguousarray(x[:, ::2, ::2, :])
            proxy = (proxy_statistics(p.gamma, p.beta, act, config.proxy_eps, config.proxy_method,
                                      config.proxy_nodes) if config.proxy_norm else None)
            y, z_next, moments = normalize_activate(x, config.base_norm, p.gamma, p.beta, act, config.groups,
                                                    config.eps, config.batch_size, proxy)
        except ZeroDivisionError as e:
            raise ZeroDivisionError(f"layer {l}: {e}: {zero_denominator_cause(config, l, p.weight, z)}") from None
        z = z_next
        yield Layer(l, x, y, z, p, moments)


NORMALIZED_AXES = {"bn": "(n, h, w)", "ln": "(h, w, c)", "in": "(h, w)", "gn": "(h, w) and a group's channels"}
"""What each built-in norm's statistics run over, in words (for messages)."""


def zero_denominator_cause(config: NetConfig, l: int, w: np.ndarray, z: np.ndarray) -> str:
    """Why layer ``l``'s normalization (or Proxy Norm) divides by zero, from its weights ``w`` and its input ``z``
    (the data when ``l = 1``): in words naming the option or the data responsible."""
    source = "the data" if l == 1 else f"z^{l - 1}, the output of layer {l - 1},"
    if not np.any(w):
        return f"ω^{l} is zero (weight ~ {config.weight}): x^{l} = 0"
    if not np.any(z):
        return f"{source} is identically zero, so x^{l} = 0"
    if config.proxy_norm and config.gamma.rms == 0:
        return f"γ is zero (gamma ~ {config.gamma}): Proxy Norm's variance is zero"
    flat = z.reshape(z.shape[0], -1, z.shape[-1])
    if z.shape[1] * z.shape[2] > 1 and np.all(flat.max(axis=1) == flat.min(axis=1)):
        return (f"{source} is constant over (h, w) in every input and channel, so the periodic conv x^{l} is too, and "
                f"{config.base_norm}'s statistics over {NORMALIZED_AXES.get(config.base_norm, 'its slices')} have "
                "zero variance: use data that vary within each image, or ε > 0 (--eps)")
    return (f"x^{l} is constant over one of {config.base_norm}'s slices (its statistics over "
            f"{NORMALIZED_AXES.get(config.base_norm, 'its slices')} have zero variance with ε = {config.eps:g}): "
            "use ε > 0 (--eps)")


@dataclass(frozen=True)
class LayerStats:
    """What the claims need from one layer, all float64 (``C = C^l``).

    power_in, power_x, power_y, power_z   Eq. 5's four terms per channel (4, C) of z^{l−1}, x^l, y^l, z^l
    mean_*, var_*                         channel means μ_c and variances σ_c² of x, y, z (C,)
    input_mean_x, input_var_x             per-input μ_x(x^l), σ_x(x^l)² over (h, w, c) (N,)
    residual_z                            P_c(z − z̃), z̃ the least-squares affine fit of z on y (C,)
    y_min, y_max                          extremes of y^l per channel (C,)
    gamma, beta                           the layer's γ^l, β^l (C,)

    Channel statistics are ``(C,)`` (``mean_x`` is ``μ_c(x)``); the instance moments ``(N, C)`` they are combined
    from are :class:`randnet.kernels.InstanceMoments`' ``inst_*`` fields.
    """

    index: int
    power_in: np.ndarray
    power_x: np.ndarray
    power_y: np.ndarray
    power_z: np.ndarray
    mean_x: np.ndarray
    var_x: np.ndarray
    mean_y: np.ndarray
    var_y: np.ndarray
    mean_z: np.ndarray
    var_z: np.ndarray
    input_mean_x: np.ndarray
    input_var_x: np.ndarray
    residual_z: np.ndarray
    y_min: np.ndarray
    y_max: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray

    # -- layer-level quantities of SPEC §4 -----------------------------------------------
    @property
    def noncollapsed_y(self) -> float:
        """``1 − P(μ_c(y)) / P(y)`` — equals ``1 − P(μ_c(y))`` when ``P(y) = 1`` (P1)."""
        return 1.0 - self.power_y[0].sum() / self.power_y.sum()

    @property
    def ln_scaling_ratio(self) -> float:
        """``r = (E_x σ_x(x))² / E_x[σ_x(x)²]`` ∈ (0, 1]."""
        s = np.sqrt(self.input_var_x)
        return float(s.mean() ** 2 / self.input_var_x.mean())

    @property
    def linearity(self) -> float:
        """Λ = P(z − z̃) / P(z) (Eqs. 8–9)."""
        return float(self.residual_z.sum() / self.power_z.sum())


def layer_statistics(layer: Layer, power_in: np.ndarray) -> LayerStats:
    """Compute :class:`LayerStats` of one layer (``power_in``: Eq. 5 terms of z^{l−1}) from its instance moments.

    ``layer`` may be a :class:`randnet.torchnet.TorchLayer`: only its moments and parameters are read, so its
    tensors stay on their device."""
    m = layer.moments if layer.moments is not None else layer_moments(layer.x, layer.y, layer.z)
    g = layer.params.gamma.astype(np.float64)
    b = layer.params.beta.astype(np.float64)
    in_mean, in_var = input_moments(m.inst_mean_x, m.inst_var_x)
    (mean_x, var_x), (mean_y, var_y), (mean_z, var_z) = (channel_moments(m.inst_mean_x, m.inst_var_x),
                                                         channel_moments(m.inst_mean_y, m.inst_var_y),
                                                         channel_moments(m.inst_mean_z, m.inst_var_z))
    return LayerStats(
        index=layer.index, power_in=power_in, power_x=power_terms(m.inst_mean_x, np.sqrt(m.inst_var_x)),
        power_y=power_terms(m.inst_mean_y, np.sqrt(m.inst_var_y)),
        power_z=power_terms(m.inst_mean_z, np.sqrt(m.inst_var_z)),
        mean_x=mean_x, var_x=var_x, mean_y=mean_y, var_y=var_y, mean_z=mean_z, var_z=var_z,
        input_mean_x=in_mean[:, 0], input_var_x=in_var[:, 0],
        residual_z=linearity_residual(var_y, var_z, m.channel_covariance()),
        y_min=m.inst_min_y.min(axis=0), y_max=m.inst_max_y.max(axis=0), gamma=g, beta=b,
    )


def layer_stream(config: NetConfig, ss: np.random.SeedSequence, data: np.ndarray | None = None) -> Iterator[LayerStats]:
    """Stream :class:`LayerStats` for ``l = 1 … L`` of one realization, keeping no earlier layer."""
    data = draw_data(config, ss) if data is None else data
    power_in = power_decomposition(data)
    for layer in forward(config, ss, data):
        stats = layer_statistics(layer, power_in)
        power_in = stats.power_z
        del layer
        yield stats
