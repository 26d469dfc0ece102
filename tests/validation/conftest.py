"""Shared fixtures of the validation tests: a loopback Dask cluster, and the toy claims.

The toy claims of :mod:`tests.validation.toy_claims` are in ``theorems.REGISTRY`` only while a test of
this folder runs: they are removed once collection ends, so other tests and the default suite never
see them, and put back around each test module here."""
import distributed
import pytest

from validation.backends import LOCAL_HOST

from . import toy_claims


def pytest_collection_finish(session):
    toy_claims.uninstall()


@pytest.fixture(autouse=True, scope="module")
def toys():
    toy_claims.install()
    yield toy_claims
    toy_claims.uninstall()


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes (1 thread each) on loopback; not the default client."""
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host=LOCAL_HOST,
                                 scheduler_port=0, dashboard_address=f"{LOCAL_HOST}:0")
    try:
        yield c
    finally:
        c.close()
