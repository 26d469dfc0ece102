"""The user-norm diagnostic: wiring, shapes, and sanity on plugins that are LN and IN in disguise."""
import json

import numpy as np
import pytest

from randnet import DatasetSpec, plugins, realization_seed
from theorems import diagnose

pytestmark = pytest.mark.usefixtures("clean_plugin_registry")


@pytest.fixture
def plugin(write_module):
    """A module on sys.path whose function ``fn`` applies randnet's normalization ``kind``."""

    def write(kind: str) -> str:
        name = write_module(f"""
            from randnet import normalize
            def fn_{kind}(x, config):
                return normalize(x, "{kind}", eps=config.eps)
        """, "diag_norms")
        return f"{name}:fn_{kind}"

    return write


SMALL = dict(widths=8, depth=5, dataset=DatasetSpec(n=4, height=6, width=6))


def run(config, realizations=2):
    rows = [diagnose.measure(config, realization_seed(0, k)) for k in range(realizations)]
    return {q: np.stack([r[q] for r in rows]) for q in rows[0]}


def test_a_plugin_that_is_ln_matches_ln_exactly(plugin):
    config = diagnose.diagnose_config(plugin("ln"), **SMALL)
    samples = run(config)
    user = config.name
    np.testing.assert_array_equal(samples[f"power_y[{user}]"], samples["power_y[ln]"])
    np.testing.assert_array_equal(samples[f"distance[{user}]"], samples["distance[ln]"])
    d = diagnose.summarize(config, samples)
    assert d.profile.shape == (5, 4) and d.noncollapsed.shape == d.ln_bound.shape == (5,)
    np.testing.assert_allclose(d.ln_bound, config.net.rho ** np.arange(5))
    assert d.distance == pytest.approx(d.ln_distance)
    assert len(d.lines()) == 7
    json.dumps(d.describe())


def test_a_plugin_that_is_in_has_no_instance_variability(plugin):
    config = diagnose.diagnose_config(plugin("in"), **SMALL)
    d = diagnose.summarize(config, run(config))
    np.testing.assert_allclose(d.variability, 0.0, atol=1e-6)      # Theorem 2
    assert np.all(d.bn_variability > 1e-3)
    np.testing.assert_allclose(d.power, 1.0, rtol=1e-5)             # Proposition 1


def test_example_rms_norm_diagnosis():
    config = diagnose.diagnose_config("randnet.examples.rms_norm:rms_norm", **SMALL)
    assert config.name == "rms_norm" and "rms_norm" in config.label()
    d = diagnose.summarize(config, run(config, 3))
    assert d.realizations == 3 and np.all(d.noncollapsed_se >= 0)
    assert 0 <= d.noncollapsed[-1] <= 1 and d.distance > 0


def test_errors():
    with pytest.raises(ValueError, match="mode must be one of"):
        diagnose.diagnose_config("randnet.examples.rms_norm:rms_norm", mode="slow")
    with pytest.raises(plugins.PluginError, match="no attribute"):
        diagnose.diagnose_config("randnet.examples.rms_norm:nope")
    config = diagnose.diagnose_config("randnet.examples.rms_norm:rms_norm", **SMALL)
    with pytest.raises(ValueError, match="diagnostic samples lack"):
        diagnose.summarize(config, {})


def test_a_builtin_normalization_is_diagnosed_by_name():
    config = diagnose.diagnose_config("bmlv", **SMALL)
    assert config.name == "bmlv" and config.panel.norms == ("bmlv", "ln", "bn")
    d = diagnose.summarize(config, run(config, 2))
    assert np.all(np.isfinite(d.profile)) and d.power[-1] < 0.9  # BMLV's power ≈ 1 − 1/π after ReLU, not 1
