"""The results store keys on content: nothing stale is ever read.

A stored realization is reused only when everything that determines it is the same: the configuration, the
measurement code (randnet, theorems, validation.realization), the source of a plugin normalization, the bytes
of a data file (:func:`validation.configs.result_digest`). The issue's reproducers: edit a plugin norm, or
overwrite the ``--dataset`` file, and rerun — the realizations must be recomputed, equal to a fresh run.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import randnet
from randnet import norms, plugins
from validation import configs
from validation.cli import main
from validation.configs import MEASUREMENT_CODE, code_digest, config_digest, file_digest, result_digest
from validation.engine import run_claim

from .toy_claims import TOY, ToyConfig

S = ["--widths", "8", "--depth", "3", "--realizations", "2", "--n-inputs", "4", "--size", "6", "--backend", "serial",
     "--no-progress", "--report-only"]
HALF = "import numpy as np\n\ndef f(x, config):\n    m = x.mean(axis=(1, 2, 3), keepdims=True)\n" \
       "    return {scale} * (x - m) / x.std(axis=(1, 2, 3), keepdims=True)\n"


def _run(argv, capsys) -> tuple[int, dict]:
    status = main(list(argv))
    err = capsys.readouterr().err
    assert status == 0, err
    out = Path(argv[argv.index("--out") + 1])
    (claim,) = json.loads((out / "results.json").read_text())["claims"]
    return claim["configs"][0]["computed"], claim["configs"][0]["quantities"]["noncollapsed"]["samples"]


def _forget(module: str, reference: str) -> None:
    """What a new process would see: the plugin not imported, not registered."""
    name = plugins._LOADED.pop(reference)[0]
    norms.NORMALIZATIONS.pop(name)
    sys.modules.pop(module)
    importlib.invalidate_caches()


def test_editing_a_plugin_norm_recomputes(tmp_path, monkeypatch, capsys, clean_plugin_registry):
    monkeypatch.syspath_prepend(str(tmp_path))
    source = tmp_path / "edited_norm.py"
    source.write_text(HALF.format(scale="0.5"))
    reference = "edited_norm:f"
    argv = ["run", "T1", *S, "--norm", reference, "--out", str(tmp_path / "o")]
    computed, before = _run(argv, capsys)
    assert computed == 2
    source.write_text(HALF.format(scale="1.00"))  # a new size too: Python's bytecode cache sees the edit
    # this process still runs the old code: refused, not keyed on the new source
    assert main(argv) == 3
    assert "changed on disk after this process imported it" in capsys.readouterr().err
    _forget("edited_norm", reference)
    computed, after = _run(argv, capsys)
    assert computed == 2 and after != before
    _forget("edited_norm", reference)
    assert _run([*argv[:-1], str(tmp_path / "fresh")], capsys) == (2, after)


def test_overwriting_the_dataset_file_recomputes(tmp_path, capsys):
    data = tmp_path / "d.npy"
    rng = np.random.default_rng(0)
    np.save(data, rng.standard_normal((4, 6, 6, 3)))
    argv = ["run", "T1", *S, "--dataset", str(data), "--out", str(tmp_path / "o")]
    computed, before = _run(argv, capsys)
    assert computed == 2 and _run(argv, capsys)[0] == 0  # unchanged file: read from the store
    np.save(data, rng.standard_normal((4, 6, 6, 3)))  # same shape, same path, other bytes
    computed, after = _run(argv, capsys)
    assert computed == 2 and after != before
    assert _run([*argv[:-1], str(tmp_path / "fresh")], capsys) == (2, after)


def test_a_change_of_the_measurement_code_recomputes(tmp_path, monkeypatch):
    first = run_claim(TOY, configs=[ToyConfig()], realizations=3, backend="serial", store=tmp_path, progress=False)
    again = run_claim(TOY, configs=[ToyConfig()], realizations=3, backend="serial", store=tmp_path, progress=False)
    assert (first.results[0].computed, again.results[0].computed) == (3, 0)
    monkeypatch.setattr(configs, "code_digest", lambda modules=MEASUREMENT_CODE: "edited")
    changed = run_claim(TOY, configs=[ToyConfig()], realizations=3, backend="serial", store=tmp_path, progress=False)
    assert changed.results[0].computed == 3


def test_the_key_is_made_of_the_configuration_and_the_code():
    net = randnet.NetConfig(widths=8, depth=2)
    assert result_digest(net) == result_digest(randnet.NetConfig(widths=(8, 8), depth=2))
    assert result_digest(net, code="a") != result_digest(net, code="b")
    assert result_digest(net) != result_digest(net.replace(depth=3))
    assert len(result_digest(net)) == 16 and result_digest(net) != config_digest(net)
    assert MEASUREMENT_CODE == ("randnet", "theorems", "validation.realization")


def test_code_digest_of_a_module_is_its_file_only(tmp_path, monkeypatch):
    pkg = tmp_path / "keyedpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "measure.py").write_text("Y = 1\n")
    (pkg / "report.py").write_text("Z = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    whole, one = code_digest(("keyedpkg",)), code_digest(("keyedpkg.measure",))
    (pkg / "report.py").write_text("Z = 22\n")
    assert code_digest(("keyedpkg.measure",)) == one and code_digest(("keyedpkg",)) != whole
    (pkg / "measure.py").write_text("Y = 22\n")
    assert code_digest(("keyedpkg.measure",)) != one


def test_file_digest_sees_an_edit_of_the_same_size_at_once(tmp_path):
    f = tmp_path / "data.bin"
    f.write_bytes(b"aaaa")
    first = file_digest(f)
    f.write_bytes(b"bbbb")  # same size, same second: the cache must not answer
    assert file_digest(f) != first
    assert file_digest(f) == file_digest(f)
    old = time.time() - 60
    os.utime(f, (old, old))
    cached = file_digest(f)
    assert cached == file_digest(f)


def test_a_data_file_is_hashed_by_its_bytes_not_its_path(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 3))
    np.save(a, x)
    np.save(b, x)
    net = randnet.NetConfig(widths=8, depth=2, dataset=randnet.DatasetSpec(path=str(a)))
    key = result_digest(net)
    np.save(a, x + 1)
    assert result_digest(net) != key
    with pytest.raises(FileNotFoundError):
        randnet.DatasetSpec(path=str(tmp_path / "missing.npy"))
