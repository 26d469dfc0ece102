"""The pytest plugin ``randnet``: claims in your own test suite, in their quick configurations.

Installed with the package (entry point ``pytest11: randnet``), so any test suite that runs where randnet is
installed has:

- the marker ``@pytest.mark.randnet_claim(KEY, norm=None, **options)``: the test asserts claim ``KEY``
  (:func:`validation.testing.assert_claim` with ``options``) before its body runs, and fails with the verdict
  table when the claim does not hold; the body may read the :class:`~validation.engine.ClaimResult` from the
  ``randnet_result`` fixture;
- the fixture ``randnet_quick``: a function ``randnet_quick(KEY, norm=None, **options)`` that does the same
  anywhere in a test and returns the result;
- the options ``--randnet-seed S`` (default 0) and ``--randnet-realizations R`` (default: each claim's quick
  number), which apply where a call does not set them.

Every call runs in ``quick`` mode unless it says otherwise, serially, with one results store per test session
(so two tests asserting the same claim on the same configurations compute it once). This module imports
nothing heavy until a test uses it.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

MARKER = "randnet_claim"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("randnet", "randnet claims (validation.testing)")
    group.addoption("--randnet-seed", type=int, default=0, help="seed of randnet claim checks (default 0)")
    group.addoption("--randnet-realizations", type=int, default=None,
                    help="realizations per configuration of randnet claim checks (default: each claim's quick one)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(key, norm=None, **options): assert a randnet claim in its quick "
                                       "configurations (validation.testing.assert_claim) before the test body runs")


@pytest.fixture(scope="session")
def randnet_store(tmp_path_factory: pytest.TempPathFactory):
    """The results store shared by the claim checks of one test session."""
    return tmp_path_factory.mktemp("randnet-store")


@pytest.fixture
def randnet_quick(request: pytest.FixtureRequest, randnet_store) -> Callable[..., Any]:
    """``randnet_quick(KEY, norm=None, **options)``: :func:`validation.testing.assert_claim` in quick mode, with
    the session's seed, realizations and store as defaults."""
    from validation.testing import assert_claim

    defaults = {"mode": "quick", "seed": request.config.getoption("randnet_seed"), "store": randnet_store}
    realizations = request.config.getoption("randnet_realizations")
    if realizations is not None:
        defaults["realizations"] = realizations

    def run(claim: str, norm: str | None = None, **options: Any):
        return assert_claim(claim, norm, **{**defaults, **options})

    return run


_FAILURE = pytest.StashKey[str]()


@pytest.fixture
def randnet_result(request: pytest.FixtureRequest, randnet_quick):
    """The :class:`~validation.engine.ClaimResult` of the test's ``@pytest.mark.randnet_claim(...)``.

    A claim that does not hold fails the test (in its call phase, with the verdict table), not its set-up.
    """
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        pytest.fail(f"the randnet_result fixture needs a @pytest.mark.{MARKER}(KEY, ...) marker on the test",
                    pytrace=False)
    if not marker.args:
        pytest.fail(f"@pytest.mark.{MARKER} needs the claim key as its first argument", pytrace=False)
    try:
        return randnet_quick(*marker.args, **marker.kwargs)
    except AssertionError as e:
        request.node.stash[_FAILURE] = str(e)
        return None


@pytest.fixture(autouse=True)
def _randnet_claim_marker(request: pytest.FixtureRequest) -> None:
    """A test carrying the marker asserts its claim even when it does not ask for ``randnet_result``."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("randnet_result")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Fail a marked test whose claim did not hold, before its body runs."""
    failure = item.stash.get(_FAILURE, None)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
