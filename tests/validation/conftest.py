"""The toy claims of :mod:`tests.validation.toy_claims` are in ``theorems.REGISTRY`` only while a test of
this folder runs: they are removed once collection ends, so other tests and the default suite never
see them, and put back around each test module here."""
import pytest

from . import toy_claims


def pytest_collection_finish(session):
    toy_claims.uninstall()


@pytest.fixture(autouse=True, scope="module")
def toys():
    toy_claims.install()
    yield toy_claims
    toy_claims.uninstall()
