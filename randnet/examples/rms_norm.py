"""An example user normalization: RMS norm (LayerNorm without mean subtraction).

    y = x / sqrt(μ_x(x²) + ε),    μ_x over (h, w, c) for each input x

Use it with ``--norm randnet.examples.rms_norm:rms_norm``. A user normalization is a function of the
activation array ``x`` ``(N, H, W, C)`` and a ``config`` carrying ``groups``, ``eps`` and ``batch_size``
(:class:`randnet.plugins.NormSettings`) that returns an array of the same shape.
"""
import numpy as np


def rms_norm(x, config):
    """Divide each input by the root mean square of its activations over (h, w, c)."""
    ms = np.mean(np.square(x, dtype=np.float64), axis=(1, 2, 3), keepdims=True)
    return x / np.sqrt(ms + config.eps)
