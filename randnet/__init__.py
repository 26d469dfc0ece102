"""randnet — the random nets of Definition 1 (Proxy Norm paper) and their moment statistics.

API contracts (SPEC): :func:`power_decomposition`, :func:`periodic_conv`, :func:`normalize`,
:func:`proxy_activation`, :func:`infinite_width_terms` (SPEC §8).
"""
from .activations import ACTIVATIONS, Activation, get_activation
from .config import DatasetSpec, NetConfig, reference_config
from .conv import periodic_conv, reference_periodic_conv
from .datasets import BUILTIN as BUILTIN_DATASETS, load_array, make_dataset
from .distributions import Distribution, parse_distribution
from .limit import LimitProfile, infinite_width_terms, limit_profile, memory_plan
from .net import Layer, LayerParams, LayerStats, child, data_assumption, draw_data, forward, layer_statistics, \
    layer_stream, realization_seed, sample_layer
from .norms import NORMALIZATIONS, normalize, parse_norm, register_normalization, weight_standardize
from .proxy import gaussian_moments, proxy_activation
from .stats import channel_linearity, cross_moments, instance_moments, power_decomposition, power_terms

__version__ = "0.2.0"

__all__ = [
    "ACTIVATIONS", "Activation", "get_activation", "DatasetSpec", "NetConfig", "reference_config",
    "periodic_conv", "reference_periodic_conv", "BUILTIN_DATASETS", "load_array", "make_dataset",
    "Distribution", "parse_distribution", "Layer", "LayerParams", "LayerStats", "child", "data_assumption",
    "draw_data", "forward", "layer_statistics", "layer_stream", "realization_seed", "sample_layer",
    "NORMALIZATIONS", "normalize", "parse_norm", "register_normalization", "weight_standardize",
    "gaussian_moments", "proxy_activation", "channel_linearity", "cross_moments", "instance_moments",
    "power_decomposition", "power_terms", "LimitProfile", "infinite_width_terms", "limit_profile", "memory_plan",
    "__version__",
]
