"""The command line: commands, option overrides, and plain-word errors with non-zero exit codes."""
import dataclasses
import json

import numpy as np
import pytest

from randnet import DatasetSpec, NetConfig
from validation.cli import apply_options as override, main

from .toy_claims import ToyConfig


def fails(argv, capsys, code, *phrases):
    """``main(argv)`` exits with ``code`` and prints every phrase on stderr, without a traceback."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == code, err
    for p in phrases:
        assert p in err, err
    assert "Traceback" not in err
    return err


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "TOY " in out and "Toy claim with known answers" in out and "[sweep: width]" in out


def test_every_command_has_help(capsys):
    for command in ("list", "run", "suite", "demo", "sweep", "reproduce"):
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0 and "usage: randnet-check " + command in capsys.readouterr().out


def test_demo_prints_the_power_decomposition_per_norm(capsys):
    assert main(["demo", "--width", "8", "--depth", "2", "--n-inputs", "4"]) == 0
    out = capsys.readouterr().out
    for norm in ("norm = bn", "norm = ln", "norm = in", "norm = gn (G = 8)"):
        assert norm in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 4 * 2
    for row in rows:  # P1: the four terms sum to P(y) = 1 for every norm
        terms = np.array(row[1:5], float)
        assert abs(terms.sum() - 1) < 5e-4 and row[5] == "1.0000"


@pytest.mark.parametrize("argv, phrases", [
    (["run", "TOY", "--widths", "abc"], ["--widths", "expected positive integers separated by commas, got 'abc'"]),
    (["run", "TOY", "--widths", "-3"], ["--widths", "got '-3'"]),
    (["run", "TOY", "--depth", "0"], ["--depth", "expected a positive integer, got '0'"]),
    (["run", "TOY", "--norm", "batchnorm"], ["--norm", "unknown normalization"]),
    (["run", "TOY", "--gamma", "normal(1"], ["--gamma", "cannot read distribution"]),
    (["run", "TOY", "--eps", "-1"], ["--eps", "expected a finite number >= 0"]),
    (["run", "TOY", "--backend", "mpi"], ["--backend", "invalid choice"]),
    (["frobnicate"], ["invalid choice"]),
    ([], ["usage"]),
])
def test_malformed_command_lines_exit_2(argv, phrases, capsys):
    fails(argv, capsys, 2, *phrases)


def test_user_errors_exit_1(capsys, tmp_path):
    fails(["run", "NOPE"], capsys, 1, "unknown claim 'NOPE'", "TOY")
    fails(["suite", "--only", "TOY,NOPE"], capsys, 1, "unknown claim(s) NOPE")
    fails(["run", "TOY", "--dataset", str(tmp_path / "missing.npy")], capsys, 1, "data file not found", "missing.npy")
    bad = tmp_path / "bad.npy"
    bad.write_text("hello, not an array")
    fails(["run", "TOY", "--dataset", str(bad)], capsys, 1, "bad.npy")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((3, 4)))
    fails(["run", "TOY", "--dataset", str(wrong)], capsys, 1, "expected shape (N, H, W, C)")
    fails(["run", "TOY", "--dataset", "cifar10-bin:" + str(tmp_path / "nowhere")], capsys, 1,
          "nowhere: no such CIFAR-10 binary folder or file")
    (tmp_path / "cut.bin").write_bytes(bytes(3073 + 100))
    fails(["run", "TOY", "--dataset", f"cifar10-bin:{tmp_path / 'cut.bin'}"], capsys, 1, "cut.bin: 3173 bytes")


def test_run_writes_a_report_and_names_ignored_options(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["run", "TOY_SWEEP", "--widths", "8,32", "--norm", "ln", "--realizations", "3", "--backend", "serial",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 4  # every width FAILs the toy's `tail <= 0` and no limit clears it: FAIL (SPEC §5)
    captured = capsys.readouterr()
    assert "--norm do(es) not apply to the configurations of claim TOY_SWEEP (ignored)" in captured.err
    assert "trend over width" in captured.out and "FAIL               overall over width" in captured.out
    data = json.loads((out / "results.json").read_text())
    (claim,) = data["claims"]
    assert [c["config"]["width"] for c in claim["configs"]] == [8, 32]
    assert [c["realizations"] for c in claim["configs"]] == [3, 3] and claim["trends"][0]["values"] == [8, 32]
    assert (out / "REPORT.md").exists() and len(list(out.glob("TOY_SWEEP_*.png"))) == 2
    assert main(argv) == 4  # resumed from the store: nothing recomputed
    data = json.loads((out / "results.json").read_text())
    assert [c["computed"] for c in data["claims"][0]["configs"]] == [0, 0]


def test_suite_runs_the_named_claims(capsys, tmp_path):
    assert main(["suite", "--only", "TOY", "--realizations", "3", "--backend", "serial", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "[1/1] TOY: Toy claim with known answers" in captured.err and "HYPOTHESIS NOT MET" in captured.out
    data = json.loads((tmp_path / "results.json").read_text())
    assert [c["key"] for c in data["claims"]] == ["TOY"] and len(data["claims"][0]["configs"]) == 2


def test_suite_lists_a_named_out_of_scope_entry_without_running_it(capsys, tmp_path):
    assert main(["suite", "--only", "TOY,BU10", "--realizations", "3", "--backend", "serial", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    assert "[1/1] TOY" in capsys.readouterr().err  # BU10 is not run
    data = json.loads((tmp_path / "results.json").read_text())
    assert [(c["key"], c["verdict"]) for c in data["claims"]][0] == ("BU10", "OUT OF SCOPE")
    assert [c["key"] for c in data["claims"]] == ["BU10", "TOY"]
    assert "**OUT OF SCOPE (not checked)**" in (tmp_path / "REPORT.md").read_text()


# -- overrides -----------------------------------------------------------------------------------------
def test_override_net_config():
    base = NetConfig(widths=16, depth=4, dataset=DatasetSpec(n=8, height=8, width=8))
    configs, ignored = override(base, {"widths": (32, 64), "depth": 3, "norm": "gn", "groups": 4,
                                       "dataset": "centered", "size": 6, "gamma": "normal(1, 0.5)"})
    assert ignored == set() and [c.widths for c in configs] == [(32,) * 3, (64,) * 3]
    c = configs[0]
    assert (c.norm, c.groups, c.gamma.b, c.dataset.name, c.dataset.height, c.dataset.width, c.dataset.n) == \
        ("gn", 4, 0.5, "centered", 6, 6, 8)


def test_override_dataset_with_natural_and_cifar_sources():
    """--dataset natural / cifar10-bin:PATH with --n-inputs (N) and --size (the crop); C becomes 3 (RGB)."""
    base = NetConfig(widths=16, depth=4, dataset=DatasetSpec("grf", n=8, height=8, width=8, channels=5))
    (c,), _ = override(base, {"dataset": "natural", "n_inputs": 12, "size": 6})
    assert c.dataset == DatasetSpec("natural", n=12, height=6, width=6, channels=3)
    (c,), _ = override(base, {"dataset": "cifar10-bin:/data/cifar-10-batches-bin", "size": 32})
    assert c.dataset == DatasetSpec("cifar10-bin", n=8, height=32, width=32, channels=3,
                                    path="/data/cifar-10-batches-bin")
    (c,), _ = override(c, {"dataset": "gaussian"})
    assert (c.dataset.name, c.dataset.path) == ("gaussian", None)
    big = NetConfig(widths=16, depth=4, dataset=DatasetSpec(n=8, height=40, width=40))
    (c,), _ = override(big, {"dataset": "cifar10-bin:/data", "size": 16})  # the new source and crop checked together
    assert (c.dataset.name, c.dataset.height, c.dataset.width) == ("cifar10-bin", 16, 16)


@dataclasses.dataclass(frozen=True)
class Panel:
    net: NetConfig
    eps: float = 0.0

    def describe(self):
        return {"net": self.net.describe(), "eps": self.eps}


def test_override_other_configs():
    configs, ignored = override(ToyConfig(), {"widths": (4, 5), "norm": "ln"})
    assert [c.width for c in configs] == [4, 5] and ignored == {"norm"}
    panel = Panel(NetConfig(widths=16, depth=4))
    configs, ignored = override(panel, {"widths": (8,), "depth": 2, "eps": 0.1})
    assert ignored == set() and configs == [Panel(NetConfig(widths=8, depth=2), eps=0.1)]


def test_list_names_the_out_of_scope_entries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "BU10" in out and "[out of scope, not checked:" in out and "BU3 " in out


def test_run_refuses_an_out_of_scope_entry_saying_why(capsys):
    fails(["run", "BU10"], capsys, 1, "BU10 is listed as out of scope, not a checked claim: a performance claim")
