"""validation.testing.assert_claim and the pytest plugin: a user's norm checked inside a test suite."""
import textwrap

import pytest

from validation.testing import assert_claim, claim_configs
from validation.verdicts import FAIL, PASS, UNMET

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.usefixtures("clean_plugin_registry")

RMS = "randnet.examples.rms_norm:rms_norm"
SMALL = dict(realizations=2, widths=8, depth=3)   # P1 on tiny nets: seconds
BROKEN = """
    import numpy as np

    def centered_only(x, config):
        '''A deliberately broken LayerNorm: subtracts the mean over (h, w, c) and forgets to divide by the std.'''
        return x - x.mean(axis=(1, 2, 3), keepdims=True)
"""


def test_a_good_user_norm_passes_p1_judged_anyway():
    result = assert_claim("P1", norm=RMS, require_hypotheses=False, **SMALL)
    assert result.verdict == PASS and result.negative_controls_rejected
    assert {r.config.norm for r in result.results} == {"rms_norm"}
    assert all(r.realizations == 2 and r.config.depth == 3 for r in result.results)
    hypotheses = [h for r in result.results for h in r.hypotheses]
    assert any("NOT MET, judged anyway" in h.why for h in hypotheses) and all(h.met for h in hypotheses)


def test_hypothesis_not_met_is_explicit():
    with pytest.raises(AssertionError) as e:
        assert_claim("P1", norm=RMS, **SMALL)
    text = str(e.value)
    assert f"verdict {UNMET}, expected {PASS}" in text and "require_hypotheses=False" in text
    assert "norm is 'bn' or 'ln' or 'in' or 'gn'" in text and "## Summary" in text
    result = assert_claim("P1", norm=RMS, expect=UNMET, **SMALL)
    assert result.verdict == UNMET and all(j.measured_verdict == PASS for r in result.results for j in r.comparisons)


def test_a_broken_user_norm_fails_with_the_verdict_table(write_module):
    module = write_module(BROKEN, "broken_norms")
    with pytest.raises(AssertionError) as e:
        assert_claim("P1", norm=f"{module}:centered_only", require_hypotheses=False, **SMALL)
    text = str(e.value)
    assert text.startswith(f"claim P1 with norm '{module}:centered_only': verdict {FAIL}, expected {PASS}")
    assert "| claim | configuration | measured (worst cell) | prediction / bound | verdict | negative controls |" in text
    assert "**FAIL**" in text and "P(y^l) = 1" in text and "centered_only" in text
    # asserting the failure is a test too
    assert assert_claim("P1", norm=f"{module}:centered_only", require_hypotheses=False, expect=FAIL,
                        **SMALL).verdict == FAIL


def test_built_in_norms_and_the_full_rule_of_overrides():
    result = assert_claim("T2", widths=8, depth=2, realizations=2)            # IN: the claim's own norm
    assert result.verdict == PASS and all(r.config.depth == 2 for r in result.results)
    with pytest.raises(AssertionError, match="verdict HYPOTHESIS NOT MET"):
        assert_claim("T2", norm="ln", widths=8, depth=2, realizations=2)


def test_bad_requests_are_clear_errors():
    with pytest.raises(ValueError, match="unknown claim 'NOPE'"):
        assert_claim("NOPE")
    with pytest.raises(ValueError, match="BU10 is listed as out of scope, not a checked claim"):
        assert_claim("BU10")
    with pytest.raises(ValueError, match="expect must be one of"):
        assert_claim("P1", expect="pass")
    with pytest.raises(ValueError, match="needs require_hypotheses=True"):
        assert_claim("P1", expect=UNMET, require_hypotheses=False)
    from theorems import REGISTRY
    with pytest.raises(ValueError, match="has no norm of its own; set one of its fields instead \\(net, norms, groups\\)"):
        claim_configs(REGISTRY["FIG2"], norm=RMS)
    with pytest.raises(ValueError, match="kernel_sizes? do\\(es\\) not apply|not_a_field do\\(es\\) not apply"):
        claim_configs(REGISTRY["P1"], not_a_field=3)
    with pytest.raises(ValueError, match="no module named 'no_such_pkg'"):
        claim_configs(REGISTRY["P1"], norm="no_such_pkg.norms:f")


def test_the_pytest_plugin_marker_and_fixture(pytester, monkeypatch):
    """A user's test suite: the marker asserts the claim before the body runs; a broken norm fails with the table."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")   # the plugin is named explicitly below
    pytester.makepyfile(user_norms=textwrap.dedent(BROKEN))
    pytester.syspathinsert()
    pytester.makepyfile(test_user=f"""
        import pytest

        SMALL = dict(realizations=2, widths=8, depth=3, require_hypotheses=False)

        @pytest.mark.randnet_claim("P1", norm="{RMS}", **SMALL)
        def test_rms_norm_has_unit_power(randnet_result):
            assert randnet_result.verdict == "PASS"

        @pytest.mark.randnet_claim("P1", norm="user_norms:centered_only", **SMALL)
        def test_broken_norm():
            pass

        def test_fixture(randnet_quick):
            result = randnet_quick("P1", norm="{RMS}", **SMALL)
            assert result.seed == 7

        def test_result_without_marker(randnet_result):
            pass
    """)
    run = pytester.runpytest("-p", "validation.pytest_plugin", "--randnet-seed", "7", "-q", "-p", "no:cacheprovider")
    run.assert_outcomes(passed=2, failed=1, errors=1)  # the error: a fixture used without its marker
    out = run.stdout.str()
    assert "test_broken_norm" in out and "verdict FAIL, expected PASS" in out and "## Summary" in out
    assert "needs a @pytest.mark.randnet_claim(KEY, ...) marker" in out
