"""The BU claims through the engine (validation.engine.run_claim) on tiny configurations: the verdicts where they
are robust at that size, every negative control rejected, the hypotheses, and planted bugs that flip a verdict.
(The quick suite runs the claims' own configurations; these tests keep to seconds.)"""
import numpy as np
import pytest

import theorems
from randnet import norms as randnet_norms
from randnet import realization_seed
from theorems import _bunets as bu
from theorems import bu_gradients, bu_identities, bu_propagation, bu_regnorm
from validation.engine import run_claim

KEYS = ("BU1", "BU2", "BU3", "BU3b", "BU4", "BU4b", "BU5", "BU6", "BU7", "BU8", "BU11")


def _run(key, configs, realizations):
    return run_claim(key, configs=configs, realizations=realizations, backend="serial", progress=False)


def _verdicts(result):
    return {j.comparison.label: j.measured_verdict for r in result.results for j in r.comparisons}


def test_every_claim_is_registered_with_controls_and_both_modes():
    for key in KEYS:
        claim = theorems.REGISTRY[key]
        for mode in ("quick", "full"):
            configs = claim.configs(mode)
            assert configs and all(claim.negative_controls(c) for c in configs), (key, mode)
            assert all(isinstance(c.describe(), dict) and c.label() for c in configs)
    assert theorems.REGISTRY["BU3"].sweep == "width"


def test_bu1_passes_and_a_planted_bmlv_bug_fails(monkeypatch):
    configs = [bu_identities.IdentityConfig(8, 1, 6), bu_identities.IdentityConfig(4, 3, 3, 3)]
    res = _run("BU1", configs, 2)
    assert res.verdict == "PASS" and res.negative_controls_rejected
    # BMLV with its mean over the layer axes (a wrong axis): an identity and an invariance break
    wrong = randnet_norms._minibatches(lambda x, eps: randnet_norms._mixed(x, eps, randnet_norms.LAYER_AXES,
                                                                           randnet_norms.LAYER_AXES, False))
    monkeypatch.setitem(randnet_norms.NORMALIZATIONS, "bmlv", wrong)
    assert _run("BU1", configs[:1], 1).verdict == "FAIL"


def test_bu1_planted_preln_centring_after_the_conv_fails(monkeypatch):
    from randnet import normalize, periodic_conv
    from randnet.norms import centre_input
    monkeypatch.setattr(bu_identities, "preln_layer",
                        lambda x, w: normalize(centre_input(periodic_conv(x, w)), "preln"))
    res = _run("BU1", [bu_identities.IdentityConfig(8, 1, 6)], 1)
    assert res.verdict == "FAIL"
    assert res.results[0].comparisons[0].cell_verdicts[bu_identities.INVARIANCES.index(
        "preln: input x_n → a_n x_n + b_n")] == "FAIL"


def test_bu11_centring_fractions():
    res = _run("BU11", [bu_identities.CentringConfig(32, 8, draws=2048, inputs=2048)], 8)
    assert res.negative_controls_rejected
    assert _verdicts(res)["E_W[P_𝔏(Wx)] = s²‖x‖²/fan_in"] == "PASS"


def test_bu2_ranking_and_the_tanh_hypothesis():
    relu = bu_propagation.CorrelationConfig(width=256, depth=20, batch=128, input_dim=64, l_star=20,
                                            norms=bu_propagation.BU2_NORMS)
    tanh = bu_propagation.CorrelationConfig(**{**relu.describe(), "activation": "tanh", "depth": 6, "l_star": 6})
    res = _run("BU2", [relu, tanh], 3)
    assert res.negative_controls_rejected
    assert res.results[0].verdict == "PASS"
    assert res.results[1].verdict == "HYPOTHESIS NOT MET"
    assert [h.name for h in res.results[1].unmet] == ["φ not odd (Eφ(u) ≠ 0: centring matters)"]


def test_bu3_sweep_groups_trends_and_controls():
    configs = [bu_propagation.GrowthConfig(width=w, depth=10, input_dim=32, delta=1e-4, batch_per_width=0.25,
                                           norms=("bn", "preln", "ln")) for w in (32, 256)]
    assert configs[1].batch == 64 and "batch" not in configs[1].describe()
    res = _run("BU3", configs, 3)
    assert res.negative_controls_rejected
    assert {t.label.split(":")[0] for t in res.trends} == {"ρ̂_bn → χ_centred = 1.46694 (±0.5 %)".split(":")[0],
                                                           "ρ̂_preln → χ_centred = 1.46694 (±0.5 %)".split(":")[0],
                                                           "ρ̂_ln → χ_uncentred = 1.00000 (±0.02)".split(":")[0]}
    assert len(res.trends) == 3 and all(t.excess[0] > t.excess[-1] for t in res.trends[:2])


def test_bu3b_tanh_rates_and_the_lmbv_report():
    config = bu_propagation.GrowthConfig(width=256, depth=10, batch=64, activation="tanh", delta=1e-4,
                                         norms=("bn", "preln", "ln", "lmbv"))
    res = _run("BU3b", [config], 2)
    assert res.negative_controls_rejected
    assert "rho[lmbv]" not in {j.comparison.quantity for j in res.results[0].comparisons}  # reported, not asserted
    assert np.all(np.abs(res.results[0].samples["rho"][:, :3] / bu.mean_field_rates("tanh")[1] - 1) < 0.05)


def test_bu4_gradient_explosion_and_the_table2_finding():
    config = bu.PanelConfig(width=128, depth=12, batch=64, input_dim=32, norms=("bn", "preln", "ln"))
    res = _run("BU4", [config], 3)
    assert res.negative_controls_rejected
    r = res.results[0]
    table2 = next(j for j in r.negative_controls if "Table 2" in j.comparison.label)
    assert table2.rejected and table2.estimate[0] > 1.35
    assert bu_gradients.TABLE2 in next(j.comparison.label for j in r.comparisons if j.comparison.quantity ==
                                       "kappa[preln]")
    assert r.samples["kappa[ln]"].max() < 1.15 < 1.35 < r.samples["kappa[bn]"].min()


def test_bu4b_skip_connections():
    res = _run("BU4b", [bu_gradients.ResidualConfig(width=128, batch=64, input_dim=32, depths=(12,))], 3)
    assert res.negative_controls_rejected and res.results[0].samples["kappa_skip"].max() < 1.2
    three = bu_gradients.ResidualConfig(width=32, batch=16, input_dim=8, depths=(8, 16, 32))
    out = bu_gradients.residual_measure(three, realization_seed(0, 0))
    assert out["kappa_skip"].shape == (3,) and out["power_law"].shape == (1,)
    with pytest.raises(ValueError, match="increasing"):
        bu_gradients.ResidualConfig(depths=(30, 20))


def test_bu5_batch_trend():
    config = bu_gradients.BatchConfig(width=128, depth=20, input_dim=32, batches=(8, 64), l_star=12)
    res = _run("BU5", [config], 3)
    assert res.negative_controls_rejected
    assert _verdicts(res)[f"c^{config.l_star} increases with B"] == "PASS"


def test_bu6_gradient_correlation():
    config = bu.PanelConfig(width=128, depth=10, batch=64, input_dim=32, norms=bu_gradients.BU6_NORMS)
    res = _run("BU6", [config], 2)
    assert res.negative_controls_rejected
    m = res.results[0].samples["r_mean"].mean(axis=0)
    assert m[config.norms.index("bn")] < m[config.norms.index("ln")] - 0.3


def test_bu7_regnorm_training_and_the_unstable_rule():
    config = bu_regnorm.RegNormTrainingConfig(width=64, depth=8, batch=32, input_dim=32, checkpoints=(0, 30))
    out = bu_regnorm.training_measure(config, realization_seed(0, 0))
    assert out["R"][0] > out["R"][-1] and out["R"].shape == (2,)
    if out["R"][-1] < bu_regnorm.R_DROPPED:
        assert out["rho_after"][0] == out["rho"][-1]
    res = _run("BU7", [config], 2)
    assert all(np.isfinite(res.results[0].samples["rho_init"]))
    # a run that never gets below the threshold is INCONCLUSIVE (NaN), not PASS or FAIL
    short = bu_regnorm.RegNormTrainingConfig(width=32, depth=8, batch=16, input_dim=16, checkpoints=(0, 1))
    res = _run("BU7", [short], 2)
    verdicts = {j.comparison.quantity: j.measured_verdict for j in res.results[0].comparisons}
    assert verdicts["rho_after"] == verdicts["kappa_after"] == "INCONCLUSIVE"


def test_bu8_regularizer():
    res = _run("BU8", [bu.RegularizerBatch(2, 3), bu.RegularizerBatch(4, 16)], 2)
    assert res.verdict == "PASS" and res.negative_controls_rejected
