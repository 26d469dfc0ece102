"""The random net of Definition 1 on PyTorch: ``NetConfig(backend="torch", device="cpu" | "cuda" | "cuda:N")``.

:func:`randnet.forward` (hence :func:`randnet.layer_stream`) hands such a configuration to :func:`forward`, which
streams the same net as the numba path, one layer at a time, with every tensor on ``config.device``:

- parameters: :func:`randnet.sample_layer` from the same ``SeedSequence`` children, in numpy on the host, and
  :func:`randnet.net.conv_weight` (``+ws``), then moved to the device. They are drawn up to
  :data:`PREFETCH` layers ahead in background threads (each layer has its own stream, so the numbers do not depend
  on the threads): at C = 1024 drawing ω costs more than a GPU's layer;
- conv (Eq. 2): ``conv2d`` of the map padded periodically by ``p = K // 2`` (``F.pad``'s circular mode, or
  circular indexing where ``p`` exceeds the map), the cross-correlation of :func:`randnet.periodic_conv` with
  ``w[o, c, i, j] = ω[i, j, c, o]``; stride 2 in layer 1 for ``first_stride = 2`` (the stride-1 output at even
  positions, as the numba path subsamples). A norm that centres its input (PreLN, :func:`randnet.norms.centres_input`)
  convolves ``z − mean_{(h, w, c)} z`` (:func:`centre_input`, as :func:`randnet.norms.centre_input`).
  On CUDA, float32 convolutions run in IEEE precision (PyTorch would otherwise let cuDNN use TF32, ~1e-3 relative
  error) with deterministic algorithms;
- norm (Eq. 3): the instance moments of ``x`` in float64 on the device; the shift ``m`` and denominator ``s`` of
  every built-in norm from them by :func:`randnet.kernels.normalization_statistics` (on the (N, C) moments, on the
  host: each of :data:`randnet.kernels.FUSED_NORMS`, the batch-statistics ones full-batch and mini-batch), then
  ``y = (x − m) · (1/s)`` in float64 rounded to the dtype, as the numba kernel. A user's normalization is a numpy
  function: ``x`` is copied to the host, normalized there and ``y`` copied back (the one place a whole tensor
  crosses per layer);
- activation (Eq. 4): ``z = φ(γ y + β)`` in the dtype, φ's torch form :meth:`randnet.Activation.torch_form` (an
  activation without one is applied by numpy on a host copy of ``γ y + β``); ``+pn`` (Eq. 7): ``(z − E) / D``
  with :func:`randnet.proxy.proxy_statistics` computed in numpy;
- statistics: the per-(n, c) moments of :class:`randnet.kernels.InstanceMoments` (means, centered variances, the
  y–z covariance, min and max of y), two-pass in float64 on the device. Only these (N, C) arrays come to the
  host, where :func:`randnet.layer_statistics` makes :class:`randnet.LayerStats` of them as for the numba path.

The result equals the numba path's to the dtype's round-off, not bit for bit (other summation orders and
convolution algorithms): ``tests/randnet/test_torchnet.py`` measures it. On one machine and software stack a
realization is reproducible. ``import randnet`` does not import torch; importing this module does.
"""
from __future__ import annotations

import contextlib
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ModuleNotFoundError as e:  # torch is a dependency, but a trimmed environment may lack it
    raise ModuleNotFoundError("backend='torch' needs PyTorch: pip install torch") from e

from .activations import get_activation
from .config import NetConfig
from .kernels import FUSED_NORMS, InstanceMoments, normalization_statistics
from .net import LayerParams, conv_weight, draw_data, sample_layer
from .norms import centres_input, normalize
from .proxy import proxy_statistics

# Layers whose parameters are drawn ahead of the one computed, and the threads drawing them (per device type).
PREFETCH = {"cpu": 1, "cuda": max(1, min(8, (os.cpu_count() or 1) - 2))}


def device_of(config: NetConfig) -> torch.device:
    """``config.device`` as a torch device, with a one-line ValueError when CUDA is asked for but absent."""
    name = config.device
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but torch.cuda.is_available() is False (torch "
                             f"{torch.__version__}); use device='cpu'")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return torch.device(name)


def to_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """An ``(N, H, W, C)`` array as an ``(N, C, H, W)`` contiguous tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(device).permute(0, 3, 1, 2).contiguous()


def to_host(t: torch.Tensor) -> np.ndarray:
    """An ``(N, C, H, W)`` tensor as an ``(N, H, W, C)`` numpy array (a copy)."""
    return t.permute(0, 2, 3, 1).contiguous().cpu().numpy()


@contextlib.contextmanager
def _ieee_convolutions(device: torch.device):
    """On CUDA: cuDNN convolutions in IEEE float32 (not TF32) with deterministic algorithms; elsewhere nothing."""
    if device.type != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    saved = cudnn.conv.fp32_precision, cudnn.deterministic
    cudnn.conv.fp32_precision, cudnn.deterministic = "ieee", True
    try:
        yield
    finally:
        cudnn.conv.fp32_precision, cudnn.deterministic = saved


def periodic_conv(z: torch.Tensor, w: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """``x[n, o, h, w] = Σ_{c,i,j} w[o, c, i, j] · z[n, c, (s h + i − p) mod H, (s w + j − p) mod W]``,
    ``p = K // 2``, for ``z (N, C_in, H, W)``, ``w (C_out, C_in, K, K)`` (:func:`randnet.periodic_conv`'s ``ω`` is
    ``w.permute(2, 3, 1, 0)``), stride ``s``: the stride-1 output at positions ``0, s, 2s, …``."""
    p = w.shape[-1] // 2
    h, wd = z.shape[2:]
    if p <= min(h, wd):
        padded = F.pad(z, (p, p, p, p), mode="circular")
    else:  # F.pad wraps at most once: index the rows and columns mod H, W
        rows = torch.arange(-p, h + p, device=z.device) % h
        cols = torch.arange(-p, wd + p, device=z.device) % wd
        padded = z.index_select(2, rows).index_select(3, cols)
    with _ieee_convolutions(z.device):
        return F.conv2d(padded, w, stride=stride)


def centre_input(z: torch.Tensor) -> torch.Tensor:
    """``z − mean_𝔏(z)`` per input over the layer axes ``(c, *spatial)`` of ``z (N, C, *spatial)``, in float64
    rounded to ``z``'s dtype: PreLN's input step, as :func:`randnet.norms.centre_input` (differentiable)."""
    z64 = z.to(torch.float64)
    return (z64 - z64.mean(dim=tuple(range(1, z.ndim)), keepdim=True)).to(z.dtype)


def instance_moments(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``μ_{x,c}(a)``, ``σ_{x,c}(a)²`` of ``a (N, C, H, W)`` over ``(h, w)``, two-pass, float64 ``(N, C)``."""
    a64 = a.to(torch.float64)
    mean = a64.mean(dim=(2, 3))
    return mean, (a64 - mean[..., None, None]).square_().mean(dim=(2, 3))


def pair_moments(y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Rows inst_mean_y, inst_var_y, inst_mean_z, inst_var_z, inst_cov_yz, inst_min_y, inst_max_y of
    :class:`~randnet.kernels.InstanceMoments` for ``y, z (N, C, H, W)``: a float64 tensor ``(7, N, C)`` (two-pass,
    like :func:`randnet.kernels._slab_moments`)."""
    mean_y, mean_z = y.to(torch.float64).mean(dim=(2, 3)), z.to(torch.float64).mean(dim=(2, 3))
    dy = y.to(torch.float64) - mean_y[..., None, None]
    dz = z.to(torch.float64) - mean_z[..., None, None]
    var_y, var_z, cov = ((a * b).mean(dim=(2, 3)) for a, b in ((dy, dy), (dz, dz), (dy, dz)))
    extremes = (t.to(torch.float64) for t in torch.aminmax(y.flatten(2), dim=2))
    return torch.stack([mean_y, var_y, mean_z, var_z, cov, *extremes])


def _column(v: np.ndarray, dtype, device) -> torch.Tensor:
    """Per-channel (C,) or per-(n, c) (N, C) values as a tensor broadcasting over (N, C, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(v, dtype=dtype)).to(device)[..., None, None]


def normalize_activate(x: torch.Tensor, config: NetConfig, params: LayerParams
                       ) -> tuple[torch.Tensor, torch.Tensor, InstanceMoments]:
    """Eqs. 3–4 (or 7 for ``+pn``) of one layer on ``x (N, C, H, W)``: ``y``, ``z`` and their instance moments (host,
    float64), as :func:`randnet.kernels.normalize_activate` on the numba path."""
    dev, dt = x.device, x.dtype
    act = get_activation(config.activation)
    inst_mean_x, inst_var_x = (t.cpu().numpy() for t in instance_moments(x))
    kind = config.base_norm
    if kind in FUSED_NORMS:
        src = x
        shift, denom = normalization_statistics(inst_mean_x, inst_var_x, kind, config.groups, config.eps,
                                                config.batch_size)
    else:  # a user's numpy normalization, on a host copy
        y_host = normalize(to_host(x), kind, config.groups, config.eps, config.batch_size)
        src = to_device(y_host.astype(config.np_dtype, copy=False), dev)
        shift, denom = np.zeros(inst_mean_x.shape), np.ones(inst_mean_x.shape)
    y = ((src.to(torch.float64) - _column(shift, np.float64, dev)) * _column(1 / denom, np.float64, dev)).to(dt)
    u = _column(params.gamma, config.np_dtype, dev) * y + _column(params.beta, config.np_dtype, dev)
    z = act.torch_form()(u) if act.torch is not None else torch.from_numpy(np.asarray(act(u.cpu().numpy())).astype(
        config.np_dtype, copy=False)).to(dev)
    if config.proxy_norm:
        e, d = proxy_statistics(params.gamma, params.beta, act, config.proxy_eps, config.proxy_method,
                                config.proxy_nodes)
        z = (z - _column(e, config.np_dtype, dev)) / _column(d, config.np_dtype, dev)
    rest = pair_moments(y, z).cpu().numpy()
    return y, z, InstanceMoments(inst_mean_x, inst_var_x, *rest)


class TorchLayer:
    """Layer ``index`` on the device: ``tensors = (x, y, z)``, each ``(N, C, H, W)``; ``params`` (host) and
    ``moments`` as in :class:`randnet.Layer`. ``x``, ``y``, ``z`` copy a tensor to the host as ``(N, H, W, C)``
    numpy arrays (on each access), so code written for :class:`randnet.Layer` reads it unchanged."""

    __slots__ = ("index", "tensors", "params", "moments")

    def __init__(self, index: int, tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor], params: LayerParams,
                 moments: InstanceMoments) -> None:
        self.index, self.tensors, self.params, self.moments = index, tensors, params, moments

    x = property(lambda self: to_host(self.tensors[0]))
    y = property(lambda self: to_host(self.tensors[1]))
    z = property(lambda self: to_host(self.tensors[2]))


def _parameters(config: NetConfig, ss: np.random.SeedSequence, in_channels: int, device: torch.device
                ) -> Iterator[tuple[LayerParams, torch.Tensor]]:
    """``(params, conv kernel (C_out, C_in, K, K) on the device)`` of layers ``1 … L`` in order, drawn
    :data:`PREFETCH` layers ahead in as many background threads (for CUDA into pinned memory, so that the copy to
    the device does not wait for the host)."""
    channels = (in_channels, *config.widths[:-1])
    pinned = device.type == "cuda"

    def draw(l: int) -> tuple[LayerParams, torch.Tensor]:
        p = sample_layer(config, ss, l, channels[l - 1])
        w = torch.from_numpy(conv_weight(config, p))
        return p, (w.pin_memory() if pinned else w)

    ahead = PREFETCH.get(device.type, 1)
    pending: deque = deque()
    with ThreadPoolExecutor(ahead) as pool:
        try:
            for l in range(1, config.depth + 1):
                while len(pending) <= ahead and l + len(pending) <= config.depth:
                    pending.append(pool.submit(draw, l + len(pending)))
                p, w = pending.popleft().result()
                yield p, w.to(device, non_blocking=pinned).permute(3, 2, 0, 1).contiguous()
        finally:  # the caller stopped early: drop what was not started
            for f in pending:
                f.cancel()


def forward(config: NetConfig, ss: np.random.SeedSequence, data: np.ndarray | None = None) -> Iterator[TorchLayer]:
    """:func:`randnet.forward` on ``config.device``: stream the :class:`TorchLayer` of ``l = 1 … L`` (module doc)."""
    device = device_of(config)
    data = draw_data(config, ss) if data is None else data
    z = to_device(np.asarray(data).astype(config.np_dtype), device)
    centring = centres_input(config.base_norm)
    for l, (p, w) in enumerate(_parameters(config, ss, z.shape[1], device), 1):
        x = periodic_conv(centre_input(z) if centring else z, w, stride=config.first_stride if l == 1 else 1)
        y, z, moments = normalize_activate(x, config, p)
        yield TorchLayer(l, (x, y, z), p, moments)
