"""NetConfig / DatasetSpec: validation with clear errors, derived quantities (ρ, assumptions), identity."""
import json
import math

import numpy as np
import pytest

from randnet import DatasetSpec, Distribution, NetConfig, reference_config
from validation.configs import config_digest


def test_defaults_and_derived():
    cfg = NetConfig(widths=8, depth=3)
    assert cfg.widths == (8, 8, 8) and cfg.width == 8
    assert (cfg.base_norm, cfg.weight_standardized, cfg.proxy_norm) == ("bn", False, False)
    assert NetConfig(norm="LN+WS+PN").norm == "ln+ws+pn"
    assert (NetConfig(norm="ln+ws+pn").base_norm, NetConfig(norm="ln+ws+pn").weight_standardized,
            NetConfig(norm="ln+ws+pn").proxy_norm) == ("ln", True, True)
    assert NetConfig(widths=[4, 6, 8], depth=3).widths == (4, 6, 8)
    assert cfg.np_dtype == np.float32
    assert NetConfig(eps=1e-3).proxy_eps == 1e-3 and NetConfig(eps=1e-3, pn_eps=0.0).proxy_eps == 0.0
    assert NetConfig(dtype=np.dtype("float64")).dtype == "float64"
    assert NetConfig(gamma="normal(1, 0.3)").gamma == Distribution("normal", 1.0, 0.3)


def test_rho_of_the_reference_configuration():
    """ρ = ‖ν_γ‖₂² / (‖ν_γ‖₂² + ‖ν_β‖₂²) = 1.04 / 1.08 for γ ~ N(1, 0.2²), β ~ N(0, 0.2²)."""
    for cfg in (reference_config(), NetConfig()):
        assert math.isclose(cfg.rho, 1.04 / 1.08, rel_tol=1e-15)
    assert NetConfig(beta="constant(0)").rho == 1.0
    assert math.isclose(NetConfig(gamma="rademacher(1)", beta="uniform(-1, 1)").rho, 1 / (1 + 1 / 3), rel_tol=1e-15)
    assert math.isnan(NetConfig(gamma="constant(0)", beta="constant(0)").rho)


def test_reference_config():
    cfg = reference_config()
    assert (cfg.width, cfg.depth, cfg.kernel_size, cfg.activation, cfg.dtype) == (1024, 50, 3, "relu", "float32")
    assert (cfg.dataset.n, cfg.dataset.height, cfg.dataset.width) == (128, 16, 16)
    assert cfg.weight == Distribution("truncated_normal", 2.0) and cfg.weight.rms == 1.0
    assert cfg.broken_assumptions() == []


def test_assumptions_flag_what_breaks_definition_1():
    assert all(ok for ok, _ in NetConfig().assumptions().values())
    cfg = NetConfig(beta="normal(0.1, 0.2)", gamma="constant(0)")
    flags = cfg.assumptions()
    assert flags["(iii) ν_beta symmetric"][0] is False and "not symmetric" in flags["(iii) ν_beta symmetric"][1]
    assert flags["(ii) ‖ν_gamma‖₂ > 0"][0] is False and "RMS 0" in flags["(ii) ‖ν_gamma‖₂ > 0"][1]
    assert flags["(iii) ν_weight symmetric"][0] and flags["(ii) ‖ν_beta‖₂ > 0"][0]
    broken = cfg.broken_assumptions()
    assert len(broken) == 2 and any("beta" in b for b in broken) and any("gamma" in b for b in broken)
    assert NetConfig(weight="uniform(0, 1)").assumptions()["(iii) ν_weight symmetric"][0] is False
    assert NetConfig(beta="constant(0)").assumptions()["(ii) ‖ν_beta‖₂ > 0"][0] is False


def test_identity_digest_and_replace():
    a, b = NetConfig(widths=8, depth=3), NetConfig(widths=(8, 8, 8), depth=3)
    assert a == b and hash(a) == hash(b) and config_digest(a) == config_digest(b)
    assert config_digest(a) != config_digest(a.replace(eps=1e-5))
    deeper = a.replace(depth=5)
    assert deeper.widths == (8,) * 5 and deeper.depth == 5
    d = a.describe()
    assert d["widths"] == 8 and d["gamma"] == "normal(1, 0.2)"
    assert json.loads(json.dumps(d)) == d  # JSON-able, losslessly
    assert "ln" in NetConfig(norm="ln").label()


@pytest.mark.usefixtures("clean_plugin_registry")
def test_replacing_the_norm_drops_bns_mini_batch_setting():
    """``run P1 --norm ln`` replaces the norm of P1's mini-batch BN configuration too: batch_size goes with the
    batch statistics (kept for another norm that has them, e.g. bmlv)."""
    mini = NetConfig(widths=8, depth=2, norm="bn", batch_size=2, dataset=DatasetSpec(n=4, height=4, width=4))
    assert mini.replace(norm="ln").batch_size is None and mini.replace(norm="in+pn").batch_size is None
    assert mini.replace(norm="preln").batch_size is None and mini.replace(norm="regnorm").batch_size is None
    assert mini.replace(norm="bn+pn").batch_size == 2 and mini.replace(eps=1e-5).batch_size == 2
    assert mini.replace(norm="bmlv").batch_size == 2 and mini.replace(norm="lmbv_c+ws").batch_size == 2
    assert mini.replace(norm="randnet.examples.rms_norm:rms_norm").batch_size is None
    with pytest.raises(ValueError, match="batch_size applies to the norms with batch statistics"):
        mini.replace(norm="ln", batch_size=2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(depth=0), "depth must be a positive integer"),
    (dict(depth=2.0), "depth must be a positive integer"),
    (dict(widths=0), "widths must be positive integers"),
    (dict(widths=-4), "widths must be positive integers"),
    (dict(widths=8.0), "widths must be positive integers"),
    (dict(widths=(8, 8), depth=3), "got 2 widths for depth 3"),
    (dict(kernel_size=2), "kernel_size must be a positive odd integer"),
    (dict(kernel_size=0), "kernel_size must be a positive odd integer"),
    (dict(norm="gn"), "positive integer number of groups"),
    (dict(norm="gn", groups=0), "positive integer number of groups"),
    (dict(norm="gn", groups=3, widths=8), r"groups=3 does not divide width\(s\) \[8\]"),
    (dict(norm="gn", groups=4, widths=(8, 6), depth=2), r"does not divide width\(s\) \[6\]"),
    (dict(norm="batchnorm"), "unknown normalization 'batchnorm'"),
    (dict(norm="ln+foo"), "only '\\+ws' and '\\+pn'"),
    (dict(activation="swish"), "unknown activation 'swish'"),
    (dict(gamma="cauchy(0, 1)"), "unknown distribution 'cauchy'"),
    (dict(beta="normal(1)"), "takes 2"),
    (dict(beta="normal(a,b)"), "parameters must be numbers"),
    (dict(weight="normal(nan, 1)"), "finite"),
    (dict(gamma="normal(1, inf)"), "finite"),
    (dict(dtype="float16"), "dtype must be one of"),
    (dict(dtype="int32"), "dtype must be one of"),
    (dict(eps=-1e-3), "eps must be a finite number >= 0"),
    (dict(eps=float("nan")), "eps must be a finite number >= 0"),
    (dict(pn_eps=float("inf")), "pn_eps must be a finite number >= 0"),
    (dict(norm="ln", batch_size=4), "batch_size applies to the norms with batch statistics"),
    (dict(norm="gn", groups=2, batch_size=4), "batch_size applies to the norms with batch statistics"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(batch_size=2.5), "batch_size must be a positive integer"),
    (dict(first_stride=3), "first_stride must be 1 or 2"),
    (dict(proxy_method="simpson"), "proxy_method must be one of"),
    (dict(proxy_nodes=0), "proxy_nodes must be a positive integer"),
    (dict(dataset="gaussian"), "dataset must be a DatasetSpec"),
    (dict(depth=10 ** 20), "depth must be at most 100,000, got 100,000,000,000,000,000,000"),
    (dict(norm="in", dataset=DatasetSpec(height=1, width=1)), "one channel of one input's 1×1 map: a single value"),
    (dict(norm="gn", groups=8, widths=8, dataset=DatasetSpec(height=1, width=1)), "one group of 1 channel"),
    (dict(norm="bn", dataset=DatasetSpec(n=1, height=1, width=1)), "one channel of 1 input's 1×1 map"),
    (dict(norm="bn", batch_size=2, dataset=DatasetSpec(n=5, height=1, width=1)), "one channel of 1 input's"),
    (dict(norm="in", first_stride=2, dataset=DatasetSpec(height=2, width=2)), "1×1 map"),
])
def test_bad_config_raises_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NetConfig(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="cifar"), "unknown dataset 'cifar'"),
    (dict(n=0), "dataset n must be a positive integer"),
    (dict(height=-1), "dataset height must be a positive integer"),
    (dict(channels=1.5), "dataset channels must be a positive integer"),
    (dict(n=True), "dataset n must be a positive integer"),
])
def test_bad_dataset_spec_raises_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DatasetSpec(**kwargs)


def test_single_value_statistics_are_fine_with_eps_or_more_values():
    one_pixel = DatasetSpec(n=4, height=1, width=1)
    assert NetConfig(norm="in", eps=1e-3, dataset=one_pixel).eps == 1e-3
    assert NetConfig(norm="bn", dataset=one_pixel).norm == "bn"  # 4 inputs: 4 values per channel
    assert NetConfig(norm="gn", groups=2, widths=8, dataset=one_pixel).groups == 2  # 4 channels per group
    assert NetConfig(norm="ln", dataset=one_pixel).norm == "ln"


def test_a_file_dataset_records_the_files_shape(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((8, 5, 7, 3)))
    spec = DatasetSpec(path=str(tmp_path / "d.npy"), n=2, height=3, width=3)
    assert (spec.n, spec.height, spec.width, spec.channels) == (8, 5, 7, 3)
    assert NetConfig(dataset=spec).describe()["dataset"]["n"] == 8
    np.savez(tmp_path / "two.npz", a=np.ones((2, 4, 4, 1)), b=np.ones((3, 4, 4, 2)))
    spec = DatasetSpec(path=str(tmp_path / "two.npz"), key="b")
    assert (spec.n, spec.channels) == (3, 2)
    with pytest.raises(ValueError, match=r"no array 'zz'; it holds \['a', 'b'\]"):
        DatasetSpec(path=str(tmp_path / "two.npz"), key="zz")


def test_valid_variants_are_kept():
    assert NetConfig(norm="gn", groups=4, widths=8).groups == 4
    assert NetConfig(norm="bn", batch_size=4).batch_size == 4
    assert NetConfig(norm="in+pn").proxy_norm and NetConfig(norm="ln+ws").weight_standardized
    cfg = NetConfig(first_stride=2, proxy_method="quantile", proxy_nodes=200, pn_eps=0.03)
    assert (cfg.first_stride, cfg.proxy_method, cfg.proxy_nodes, cfg.pn_eps) == (2, "quantile", 200, 0.03)
