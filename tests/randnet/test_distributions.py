"""Parameter distributions ν_ω, ν_γ, ν_β: moments, the symmetry flag, sampling and parsing."""
import json
import math

import numpy as np
import pytest
from scipy import stats

from randnet import Distribution, parse_distribution

N_SAMPLE = 200_000
# (text, exact mean, exact E[v²], symmetric about 0)
CASES = [
    ("normal(1, 0.2)", 1.0, 1.04, False),
    ("normal(0, 0.2)", 0.0, 0.04, True),
    ("truncated_normal(2)", 0.0, 1.0, True),
    ("truncated_normal(0.5)", 0.0, 1.0, True),
    ("uniform(-1, 1)", 0.0, 1 / 3, True),
    ("uniform(0, 2)", 1.0, 4 / 3, False),
    ("rademacher(0.5)", 0.0, 0.25, True),
    ("constant(0.3)", 0.3, 0.09, False),
    ("constant(0)", 0.0, 0.0, True),
]


@pytest.mark.parametrize("text, mean, mean_square, symmetric", CASES)
def test_exact_moments_and_flags(text, mean, mean_square, symmetric):
    d = parse_distribution(text)
    assert math.isclose(d.mean, mean, abs_tol=1e-15)
    assert math.isclose(d.mean_square, mean_square, rel_tol=1e-14, abs_tol=1e-15)
    assert math.isclose(d.rms, math.sqrt(mean_square), rel_tol=1e-14, abs_tol=1e-15)
    assert d.symmetric is symmetric


@pytest.mark.parametrize("text, mean, mean_square, symmetric", CASES)
def test_flags_agree_with_a_seeded_sample(text, mean, mean_square, symmetric):
    """Sample mean and mean square within 5 standard errors of the exact values; the symmetry flag agrees
    with a two-sample Kolmogorov–Smirnov comparison of v and −v."""
    d = parse_distribution(text)
    v = d.sample(np.random.default_rng(11), N_SAMPLE)
    assert v.shape == (N_SAMPLE,) and v.dtype == np.float64
    for sample, exact in ((v, mean), (v ** 2, mean_square)):
        se = sample.std() / math.sqrt(N_SAMPLE)
        assert abs(sample.mean() - exact) <= 5 * se + 1e-15, (text, sample.mean(), exact)
    if np.ptp(v) == 0:
        assert symmetric == (v[0] == 0)
        return
    p = stats.ks_2samp(v[: N_SAMPLE // 2], -v[N_SAMPLE // 2:]).pvalue
    assert (p > 1e-3) if symmetric else (p < 1e-12), (text, p)


def test_truncated_normal_support_and_scale():
    """N(0,1) truncated to ±bound and rescaled to unit RMS: support ±bound / sqrt(Var of the truncation)."""
    d = Distribution("truncated_normal", 2.0)
    v = d.sample(np.random.default_rng(1), N_SAMPLE)
    edge = 2.0 / math.sqrt(stats.truncnorm(-2, 2).var())
    assert np.max(np.abs(v)) <= edge and np.max(np.abs(v)) > 0.99 * edge
    assert abs(np.sqrt(np.mean(v ** 2)) - 1) < 0.01


def test_rademacher_and_constant_values():
    rng = np.random.default_rng(2)
    assert set(np.unique(Distribution("rademacher", 0.5).sample(rng, 1000))) == {-0.5, 0.5}
    assert np.all(Distribution("constant", 0.3).sample(rng, 7) == 0.3)
    assert np.all(Distribution("normal", 2.0, 0.0).sample(rng, 4) == 2.0)


def test_sampling_is_seeded_and_keeps_dtype():
    d = parse_distribution("normal(0, 1)")
    a = d.sample(np.random.default_rng(5), (3, 4), dtype=np.float32)
    b = d.sample(np.random.default_rng(5), (3, 4), dtype=np.float32)
    assert a.dtype == np.float32 and a.shape == (3, 4) and np.array_equal(a, b)
    assert not np.array_equal(a, d.sample(np.random.default_rng(6), (3, 4), dtype=np.float32))


def test_parse_round_trip_and_defaults():
    for text, *_ in CASES:
        d = parse_distribution(text)
        assert parse_distribution(str(d)) == d
    assert parse_distribution("truncated_normal") == Distribution("truncated_normal", 2.0)
    assert parse_distribution("rademacher()") == Distribution("rademacher", 1.0)
    assert parse_distribution(" normal ( 1 , 0.2 ) ") == Distribution("normal", 1.0, 0.2)
    d = Distribution("normal", 1.0, 0.2)
    assert parse_distribution(d) is d
    assert json.dumps(str(d)) == '"normal(1, 0.2)"'


@pytest.mark.parametrize("text, match", [
    ("normal(1)", r"normal takes 2 parameter\(s\), got 1"),
    ("normal(a,b)", "parameters must be numbers"),
    ("normal", "takes 2"),
    ("constant(1, 2)", "takes 1"),
    ("cauchy(0, 1)", "unknown distribution 'cauchy'"),
    ("normal(1, 0.2", "cannot read distribution"),
    ("normal(nan, 1)", "must be a finite number"),
    ("normal(0, inf)", "must be a finite number"),
    ("uniform(-inf, 1)", "must be a finite number"),
    ("normal(0, -1)", "std must be >= 0"),
    ("uniform(1, 1)", "low < high"),
    ("truncated_normal(0)", "bound must be > 0"),
])
def test_malformed_distributions_raise(text, match):
    with pytest.raises(ValueError, match=match):
        parse_distribution(text)


def test_bad_direct_construction_raises():
    with pytest.raises(ValueError, match="unknown distribution 'gamma'"):
        Distribution("gamma", 1.0)
    with pytest.raises(ValueError, match="finite number"):
        Distribution("normal", "1", 0.2)
