"""The overall verdict of the asymptotic claims (SPEC §5) on deliberately false bounds: a bound that every width
(and the infinite-width limit) violates is FAIL, whatever the trend of the excess; the true T1 / P6 are not."""
import dataclasses

import pytest

import theorems
from randnet import DatasetSpec, NetConfig
from theorems import p6, t1
from theorems._common import layers, rho_powers
from theorems.base import Comparison
from validation.engine import run_claim
from validation.verdicts import FAIL, INCONCLUSIVE, PASS

T1_SWEEP = [NetConfig(widths=c, depth=6, norm="ln", dataset=DatasetSpec(n=16, height=4, width=4)) for c in (8, 32)]
P6_SWEEP = [NetConfig(widths=c, depth=6, norm="ln", activation="identity",
                      dataset=DatasetSpec(name="centered", n=8, height=8, width=8)) for c in (32, 64)]


def _run(key, configs, comparisons=None, realizations=16):
    claim = theorems.REGISTRY[key]
    if comparisons is not None:
        claim = dataclasses.replace(claim, comparisons=comparisons)
    return run_claim(claim, configs=configs, realizations=realizations, backend="serial", progress=False)


def _t1_bound(scale):
    """T1's comparison with the bound ``scale · ρ^{l−1}`` (false for scale 0 and 0.1)."""
    return lambda c: [Comparison("noncollapsed", "<=", scale * rho_powers(c), t1.DELTA, "mean",
                                 f"1 − P(μ_c(y^l)) ≲ {scale}·ρ^{{l−1}} (false)", layers(c))]


@pytest.mark.parametrize("scale", [0.0, 0.1])
def test_t1_with_a_false_bound_is_fail_overall(scale):
    res = _run("T1", T1_SWEEP, _t1_bound(scale))
    assert all(r.verdict == FAIL for r in res.results)
    (a,) = res.asymptotic
    assert res.verdict == FAIL and a.verdict == FAIL and a.failing and a.failing[0] == 1
    assert a.limit_cells[0] == FAIL and "limit C = ∞ violates" in a.reason  # the limit violates the false bound too


def test_p6_with_its_negative_control_as_the_claim_is_fail_overall():
    res = _run("P6", P6_SWEEP, p6.negative_controls, realizations=64)  # the betting sequence needs 64 here
    (a,) = res.asymptotic
    assert res.verdict == FAIL and a.verdict == FAIL and a.failing[-1] == 6 and a.limit_cells[-1] == FAIL


@pytest.mark.parametrize("key, configs", [("T1", T1_SWEEP), ("P6", P6_SWEEP)])
def test_the_true_claims_are_not_fail(key, configs):
    res = _run(key, configs)
    (a,) = res.asymptotic
    assert res.verdict in (PASS, INCONCLUSIVE) and a.failing == () and a.limit_cells == (PASS,) * 6
    assert res.verdict == PASS or a.decide
    assert len(a.crossing) == 2
