"""The torch backend of the random net (NetConfig(backend="torch")) through the engine, the results store, sweeps
and the command line: claims run on it and agree with the numba backend; a store entry of one backend is never
read for the other; CUDA where there is none is a one-line error."""
import json

import numpy as np
import pytest
import torch

from randnet import DatasetSpec, NetConfig, realization_seed
from tests.helpers import assert_close
from theorems.p5 import p5_configs, p5_measure
from validation import sweepfile as sw
from validation.cli import main
from validation.engine import run_claim
from validation.store import Store
from validation.verdicts import PASS

SMALL = NetConfig(widths=6, depth=3, dtype="float64", dataset=DatasetSpec(n=4, height=6, width=5, channels=3))
P1_CONFIGS = [SMALL.replace(norm="bn"), SMALL.replace(norm="gn", groups=3), SMALL.replace(norm="in", dtype="float32")]


def _torch(configs, **changes):
    return [c.replace(backend="torch", **changes) for c in configs]


def test_p1_passes_on_torch_and_the_store_keeps_backends_apart(tmp_path):
    """P1 (through forward()'s instance moments, theorems._common.layer_moments) PASSes on the torch backend with the numba
    backend's samples to round-off; each backend computes its own realizations and re-reads only its own."""
    store = Store(tmp_path / "store")
    on_numba = run_claim("P1", P1_CONFIGS, 2, backend="serial", store=store, progress=False)
    on_torch = run_claim("P1", _torch(P1_CONFIGS), 2, backend="serial", store=store, progress=False)
    assert [r.computed for r in on_torch.results] == [2, 2, 2], "read the numba backend's store entries"
    for a, b in zip(on_numba.results, on_torch.results):
        assert b.verdict == PASS and b.negative_controls_rejected, b.label
        assert a.digest != b.digest and "[torch cpu]" in b.label
        for q in a.samples:
            assert np.allclose(b.samples[q], a.samples[q], rtol=1e-5, atol=1e-6), q
    again = run_claim("P1", _torch(P1_CONFIGS), 2, backend="serial", store=store, progress=False)
    assert [r.computed for r in again.results] == [0, 0, 0]
    for a, b in zip(on_torch.results, again.results):
        assert all(np.array_equal(a.samples[q], b.samples[q]) for q in a.samples)


def test_t1_through_layer_stream_serial_equals_joblib_and_matches_numba():
    """T1 reads LayerStats from layer_stream (no tensor leaves the device); on torch, realization k is the same on
    serial and on two joblib workers, bit for bit, and equals the numba backend's to float64 round-off."""
    configs = [SMALL.replace(norm="ln", widths=c, depth=4) for c in (4, 8)]
    numba = run_claim("T1", configs, 2, backend="serial", progress=False)
    serial = run_claim("T1", _torch(configs), 2, backend="serial", progress=False)
    parallel = run_claim("T1", _torch(configs), 2, backend="joblib", jobs=2, progress=False)
    assert serial.results[0].verdict == numba.results[0].verdict
    for a, b, c in zip(numba.results, serial.results, parallel.results):
        for q in a.samples:
            assert np.array_equal(b.samples[q], c.samples[q]), q
            assert np.allclose(b.samples[q], a.samples[q], rtol=1e-12, atol=1e-13), q


def test_p5_measures_its_distance_on_the_torch_layers():
    """P5 computes its distance d from forward()'s y^l itself (theorems/p5.py); on the torch backend y^l is the
    TorchLayer's host copy, and every P5 quantity equals the numba backend's to float64 round-off."""
    cfg = p5_configs("quick")[0]
    ss = realization_seed(3, 1)
    on_numba, on_torch = p5_measure(cfg, ss), p5_measure(cfg.replace(backend="torch"), ss)
    assert on_torch.keys() == on_numba.keys()
    for q, v in on_numba.items():
        assert_close(on_torch[q], v, rtol=1e-12, msg=q)


def test_sweep_grid_sets_the_net_backend_and_device(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('claims = ["P1"]\nbase = "first"\n[grid]\nnet_backend = ["numba", "torch"]\n'
                    'depths = 2\n')
    entries = sw.load_sweep(path).expand()
    assert [e.config.backend for e in entries] == ["numba", "torch"]
    assert len({e.digest for e in entries}) == 2
    c = sw.apply_overrides(SMALL, {"net_backend": "torch", "devices": "cuda:0"})
    assert (c.backend, c.device) == ("torch", "cuda:0")
    with pytest.raises(sw.SweepError, match="needs backend='torch'"):
        sw.apply_overrides(SMALL, {"device": "cuda"})


RUN = ["run", "P1", "--widths", "4", "--depth", "2", "--n-inputs", "2", "--size", "4", "--realizations", "1",
       "--backend", "serial", "--no-progress"]


def test_cli_net_backend_and_device(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*RUN, "--net-backend", "torch", "--device", "cpu", "--out", str(out)]) == 0
    configs = [r["config"] for c in json.loads((out / "results.json").read_text())["claims"] for r in c["configs"]]
    assert configs and all(c["backend"] == "torch" for c in configs)
    assert "[torch cpu]" in capsys.readouterr().out


def _fails(argv, capsys, code, phrase):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == code and phrase in err and "Traceback" not in err, err


def test_cli_device_errors(tmp_path, capsys):
    _fails([*RUN, "--device", "cuda", "--out", str(tmp_path)], capsys, 1, "device 'cuda' needs backend='torch'")
    _fails([*RUN, "--net-backend", "torch", "--device", "gpu", "--out", str(tmp_path)], capsys, 1,
           "device must be 'cpu', 'cuda' or 'cuda:N', got 'gpu'")
    _fails([*RUN, "--net-backend", "jax", "--out", str(tmp_path)], capsys, 2, "invalid choice: 'jax'")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cli_cuda_where_there_is_none(tmp_path, capsys):
    """The claim's error is one line in the report and on stderr (exit status 3), never a torch traceback."""
    assert main([*RUN, "--net-backend", "torch", "--device", "cuda", "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "ERROR ValueError: device 'cuda' requested but torch.cuda.is_available() is False" in err
    assert "Traceback" not in err
