"""The Monte Carlo engine: reproducibility, the results store and resuming, result objects."""
import dataclasses

import numpy as np
import pytest

import randnet
from validation import engine, realization
from validation.engine import measure_realization, run_claim
from validation.intervals import t_interval
from validation.configs import config_digest, distinct_labels, result_digest
from validation.store import Store
from validation.verdicts import FAIL, INCONCLUSIVE, PASS, UNMET

from .toy_claims import TOY, TOY_SWEEP, ToyConfig, measure


def _same(a, b):
    assert [r.digest for r in a.results] == [r.digest for r in b.results]
    for x, y in zip(a.results, b.results):
        assert set(x.samples) == set(y.samples)
        for q in x.samples:
            assert np.array_equal(x.samples[q], y.samples[q]), q


def test_measure_realization_is_the_claims_measurement_as_float64():
    config = ToyConfig()
    values = measure_realization("TOY", config, 5, 3)
    expected = measure(config, randnet.realization_seed(5, 3))
    assert set(values) == set(expected)
    for q in values:
        assert values[q].dtype == np.float64 and np.array_equal(values[q], expected[q])


def test_unknown_claim_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown claim 'NOPE'"):
        measure_realization("NOPE", ToyConfig(), 0, 0)


def test_serial_and_two_joblib_workers_give_identical_samples():
    serial = run_claim(TOY, backend="serial", progress=False)
    parallel = run_claim(TOY, backend="joblib", jobs=2, progress=False)
    _same(serial, parallel)


def test_realization_k_does_not_depend_on_the_number_of_realizations():
    few = run_claim(TOY, realizations=3, seed=7, backend="serial", progress=False)
    many = run_claim(TOY, realizations=6, seed=7, backend="serial", progress=False)
    other_seed = run_claim(TOY, realizations=3, seed=8, backend="serial", progress=False)
    for a, b, c in zip(few.results, many.results, other_seed.results):
        assert np.array_equal(a.samples["q"], b.samples["q"][:3])
        assert not np.array_equal(a.samples["q"], c.samples["q"])


def test_result_objects():
    res = run_claim(TOY, backend="serial", progress=False)
    assert res.claim is TOY and res.mode == "quick" and len(res.results) == 2
    met, unmet = res.results
    assert met.realizations == 8 and met.samples["power_y"].shape == (8, 4, 4)
    assert not met.samples["q"].flags.writeable
    ci = met.confidence_interval("tail", 0.9)
    expected = t_interval(met.samples["tail"], 0.9)
    assert np.array_equal(ci.low, expected.low) and np.array_equal(ci.high, expected.high)
    verdicts = [j.verdict for j in met.comparisons]
    assert verdicts[1:] == [PASS, PASS] and verdicts[0] in (PASS, INCONCLUSIVE)
    assert met.negative_controls_rejected and all(j.verdict == FAIL for j in met.negative_controls)
    assert [h.name for h in unmet.unmet] == ["symmetric"] and unmet.verdict == UNMET
    assert res.verdict == met.verdict  # a configuration that breaks a hypothesis does not mask the others
    assert res.trends == ()


def test_sweep_claim_is_judged_by_its_cells_its_limit_and_its_trend():
    """SPEC §5: the trend alone never makes a PASS. Every width FAILs ``tail <= 0`` while the excess shrinks: FAIL
    without a limit, and with a limit that violates the bound; INCONCLUSIVE when the limit (0) clears the FAILs."""
    res = run_claim(TOY_SWEEP, backend="serial", progress=False)
    assert all(r.verdict == FAIL for r in res.results)  # each width alone: tail > 0
    (trend,) = res.trends
    assert trend.values == (16, 64, 256) and trend.verdict == PASS
    (asym,) = res.asymptotic
    assert res.verdict == FAIL and asym.failing == (1, 2, 3, 4) and asym.limit is None and res.limits == {}
    for limit, verdict in ((0.0, INCONCLUSIVE), (0.1, FAIL)):
        claim = dataclasses.replace(TOY_SWEEP, limit=lambda c, v=limit: {"tail": np.full(c.cells, v)})
        lim = run_claim(claim, backend="serial", progress=False)
        assert lim.verdict == verdict and set(lim.limits) == {r.label for r in lim.results}
        assert lim.asymptotic[0].limit_cells == ((PASS if limit == 0 else FAIL),) * 4
        assert lim.asymptotic[0].decide == ("width = 1024 would decide" if verdict == INCONCLUSIVE else "")
    assert trend.slope == pytest.approx(-0.5, abs=0.05)
    assert trend.fixed == ""  # one group: nothing to tell apart
    two = run_claim(TOY_SWEEP, configs=[ToyConfig(width=w, mean=m) for m in (0.0, 1.0) for w in (16, 64)],
                    realizations=3, backend="serial", progress=False)
    assert [(t.fixed, t.values) for t in two.trends] == [("mean=0.0", (16, 64)), ("mean=1.0", (16, 64))]


def test_bad_arguments():
    with pytest.raises(ValueError, match="realizations"):
        run_claim(TOY, realizations=0, progress=False)
    with pytest.raises(ValueError, match="mode"):
        run_claim(TOY, mode="slow", progress=False)
    with pytest.raises(ValueError, match="no configuration"):
        run_claim(TOY, configs=[], progress=False)


def test_inconsistent_measurements_are_a_clear_error():
    rows = [{"q": np.zeros(3)}, {"q": np.zeros(4)}]
    with pytest.raises(ValueError, match="quantity 'q' has shapes"):
        engine._stack("TOY", "label", rows)
    with pytest.raises(ValueError, match=r"\['extra'\] missing"):
        engine._stack("TOY", "label", [{"q": np.zeros(3)}, {"q": np.zeros(3), "extra": np.zeros(1)}])


# -- store and resume ----------------------------------------------------------------------------------
def test_config_digest():
    assert config_digest(ToyConfig()) == config_digest(ToyConfig())
    assert config_digest(ToyConfig()) != config_digest(ToyConfig(width=17))
    net = randnet.NetConfig(widths=8, depth=2)
    assert config_digest(net) == config_digest(randnet.NetConfig(widths=(8, 8), depth=2))
    # the store's key of a NetConfig, pinned: stores written before the digest moved to validation.configs stay valid
    assert config_digest(randnet.NetConfig()) == "ef89536a529b9fac"
    with pytest.raises(TypeError, match="describe"):
        config_digest(object())


def test_second_run_computes_nothing_new(tmp_path):
    first = run_claim(TOY, realizations=4, backend="serial", store=tmp_path, progress=False)
    assert [r.computed for r in first.results] == [4, 4]
    files = sorted(tmp_path.rglob("*.npz"))
    assert len(files) == 8 and not list(tmp_path.rglob("*.tmp"))
    second = run_claim(TOY, realizations=4, backend="serial", store=tmp_path, progress=False)
    assert [r.computed for r in second.results] == [0, 0]
    _same(first, second)
    assert second.results[0].seconds == pytest.approx(first.results[0].seconds)  # stored compute time


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_key", "folder"])
def test_damaged_store_file_is_recomputed_never_read(tmp_path, damage):
    reference = run_claim(TOY, realizations=3, backend="serial", store=tmp_path, progress=False)
    store = Store(tmp_path)
    digest = result_digest(reference.results[0].config)
    path = store.path("TOY", digest, 0, 1)
    assert path.is_file()
    if damage == "garbage":
        path.write_bytes(b"not an npz file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-40])
    elif damage == "wrong_key":  # a valid file, stored under another realization's name
        path.write_bytes(store.path("TOY", digest, 0, 2).read_bytes())
    else:  # a folder in the entry's place (with something in it): a corrupt entry, not the end of the claim
        path.unlink()
        (path / "inside").mkdir(parents=True)
    assert store.load("TOY", digest, 0, 1) is None and not path.exists()
    if damage == "folder":
        (path / "inside").mkdir(parents=True)
        rerun = run_claim(TOY, realizations=3, backend="serial", store=tmp_path, progress=False)
        assert [r.computed for r in rerun.results] == [1, 0] and path.is_file()
    run_claim(TOY, realizations=3, backend="serial", store=tmp_path, progress=False)  # re-creates it
    path.write_bytes(b"corrupt again")
    again = run_claim(TOY, realizations=3, backend="serial", store=tmp_path, progress=False)
    assert [r.computed for r in again.results] == [1, 0]
    _same(reference, again)


def test_store_rejects_reserved_names_and_keys_by_version(tmp_path):
    store = Store(tmp_path, version="1.0")
    with pytest.raises(ValueError, match="reserved"):
        store.save("TOY", "d", 0, 0, {"__key__": np.zeros(1)}, 0.0)
    store.save("TOY", "d", 0, 0, {"q": np.arange(3.0)}, 0.5)
    values, seconds = store.load("TOY", "d", 0, 0)
    assert np.array_equal(values["q"], np.arange(3.0)) and seconds == 0.5
    assert Store(tmp_path, version="2.0").load("TOY", "d", 0, 0) is None


def test_interrupted_run_keeps_what_was_computed(tmp_path, monkeypatch):
    """A failure mid-run loses nothing already computed: the next run computes only the rest."""
    real = realization.measure_realization

    def flaky(claim_key, config, seed, k):
        if k == 2:
            raise RuntimeError("interrupted")
        return real(claim_key, config, seed, k)

    monkeypatch.setattr(realization, "measure_realization", flaky)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_claim(TOY, configs=[ToyConfig()], realizations=4, backend="serial", store=tmp_path, progress=False)
    monkeypatch.setattr(realization, "measure_realization", real)
    resumed = run_claim(TOY, configs=[ToyConfig()], realizations=4, backend="serial", store=tmp_path,
                        progress=False)
    assert resumed.results[0].computed == 2  # realizations 0 and 1 came from the store
    _same(resumed, run_claim(TOY, configs=[ToyConfig()], realizations=4, backend="serial", progress=False))


def test_configurations_sharing_a_label_are_told_apart():
    a, b, c = (randnet.NetConfig(widths=8, depth=2), randnet.NetConfig(widths=8, depth=2, dtype="float64"),
               randnet.NetConfig(widths=16, depth=2))
    assert distinct_labels([a, b, c]) == [f"{a.label()} (dtype=float32)", f"{a.label()} (dtype=float64)",
                                                   c.label()]
    assert distinct_labels([ToyConfig(), ToyConfig(width=3)]) == ["width=16, mean=0.0, std=1.0, cells=4, "
                                                                        "noise=0.1, symmetric=True", "width=3, "
                                                                        "mean=0.0, std=1.0, cells=4, noise=0.1, "
                                                                        "symmetric=True"]
