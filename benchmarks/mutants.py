"""Plant plausible bugs in a copy of the package and report which tests catch each (issue 13, item 5).

    .venv/bin/python benchmarks/mutants.py [--only NAME,...] [--tests tests/randnet/test_sampling_laws.py ...]
                                           [--claims T1,P6,...]

For each mutant of :data:`MUTANTS` (a file, a text that must occur exactly once, its replacement) the package
(``randnet``, ``theorems``, ``validation``, ``tests``, with their ``__pycache__`` so numba's cache is reused) is
copied into a temporary folder, the replacement is made, and the :data:`TESTS` subset runs there (``pytest -x``).
A mutant is *caught* when the tests fail; the report prints, per mutant, caught or SURVIVED and the first
failing test. With ``--claims``, the quick suite of those claims also runs on each mutant (and once on the unmutated
copy), and the report lists the claim verdicts and negative-control rejections that differ from the unmutated ones
(:func:`validation.baseline.differences`): what the *verdicts* see. Normalized nets are scale-invariant, so bugs of the weight scale pass every normalized claim's
verdict: the direct tests of the sampling laws (``tests/randnet/test_sampling_laws.py``) are what catches them.
Takes minutes on 2 cores (each mutant: a copy and one pytest process).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from validation.baseline import differences  # noqa: E402
PACKAGES = ("randnet", "theorems", "validation", "tests")
TESTS = ("tests/randnet/test_sampling_laws.py", "tests/randnet/test_distributions.py", "tests/randnet/test_net.py",
         "tests/randnet/test_kernels.py", "tests/theorems/test_t1.py", "tests/theorems/test_p6.py")

MUTANTS = {
    "fan-in off by sqrt(2)": ("randnet/net.py", "/ np.sqrt(k * k * in_channels)", "/ np.sqrt(2 * k * k * in_channels)"),
    "fan-in from the output width": ("randnet/net.py", "/ np.sqrt(k * k * in_channels)", "/ np.sqrt(k * k * cout)"),
    "weight RMS not rescaled to 1": ("randnet/distributions.py",
                                     "/ math.sqrt(stats.truncnorm(-self.a, self.a).var())", ""),
    "weight truncation at 2x the bound": ("randnet/distributions.py", "lo = special.ndtr(-self.a)",
                                          "lo = special.ndtr(-2 * self.a)"),
    "normal(mean, std) parameters swapped": ("randnet/distributions.py", "rng.normal(self.a, self.b, shape)",
                                             "rng.normal(self.b, self.a, shape)"),
    "gamma drawn from nu_beta": ("randnet/net.py", "gamma = config.gamma.sample(rng, (cout,))",
                                 "gamma = config.beta.sample(rng, (cout,))"),
    "beta drawn from nu_gamma": ("randnet/net.py", "beta = config.beta.sample(rng, (cout,))",
                                 "beta = config.gamma.sample(rng, (cout,))"),
    "instance sums accumulated in float32": ("randnet/kernels.py", "    sy = np.zeros(c)\n    sz = np.zeros(c)\n",
                                             "    sy = np.zeros(c, np.float32)\n    sz = np.zeros(c, np.float32)\n"),
    "instance spread term dropped from the power": ("randnet/stats.py",
                                                    "        np.mean((inst_std - s_bar) ** 2, axis=0),\n",
                                                    "        0.0 * s_bar,\n"),
    "rho with gamma and beta swapped": ("randnet/config.py", "return g / (g + b) if", "return b / (g + b) if"),
}


def suite_results(tmp: str, env: dict, claims: str) -> dict:
    """``results.json`` of the quick suite of ``claims`` run in the copy ``tmp``."""
    out = Path(tmp) / "mutant-report"
    subprocess.run([sys.executable, "-m", "validation.cli", "suite", "--only", claims, "--out", str(out), "--jobs", "1",
                    "--no-progress", "--report-only"], cwd=tmp, env=env, capture_output=True, text=True)
    return json.loads((out / "results.json").read_text())


def run_mutant(name: str, path: str, old: str, new: str, tests: tuple[str, ...], claims: str | None = None,
               reference: dict | None = None) -> tuple[str, str, float, list[str] | dict]:
    """(``caught`` / ``SURVIVED`` / ``not planted``, the first failing test or why, seconds, and with ``claims`` the
    verdict differences from ``reference`` — or, without a reference, the suite's results themselves)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="randnet-mutant-") as tmp:
        for p in PACKAGES:
            shutil.copytree(ROOT / p, Path(tmp) / p, symlinks=True)
        for f in ("pyproject.toml", "setup.cfg"):
            if (ROOT / f).exists():
                shutil.copy2(ROOT / f, Path(tmp) / f)
        target = Path(tmp) / path
        text = target.read_text()
        if old and text.count(old) != 1:
            return "not planted", f"{old!r} does not occur exactly once in {path}", time.perf_counter() - start, []
        if old:  # an empty text plants nothing: the unmutated reference
            target.write_text(text.replace(old, new))
        env = {**os.environ, "PYTHONPATH": tmp, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                              cwd=tmp, env=env, capture_output=True, text=True) if tests else None
        seen: list[str] | dict = []
        if claims:
            results = suite_results(tmp, env, claims)
            seen = results if reference is None else differences(results, reference)
    seconds = time.perf_counter() - start
    if proc is None:
        return ("caught" if seen else "SURVIVED"), "", seconds, seen
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
    if proc.returncode == 0:
        return ("caught" if seen else "SURVIVED"), "", seconds, seen
    return "caught", failed[0] if failed else f"pytest exit {proc.returncode}", seconds, seen


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated mutant names")
    p.add_argument("--tests", nargs="*", default=list(TESTS), help="the test files to run on each mutant (none: only "
                                                                   "the verdicts of --claims)")
    p.add_argument("--claims", help="comma-separated claim keys whose quick-suite verdicts are compared on each mutant")
    args = p.parse_args()
    names = list(MUTANTS) if args.only is None else [n.strip() for n in args.only.split(",")]
    reference = None
    if args.claims:  # the unmutated copy's verdicts (an empty replacement plants nothing)
        reference = run_mutant("none", "randnet/__init__.py", "", "", (), args.claims)[3]
    print(f"tests: {' '.join(args.tests) or '(none)'}; claims: {args.claims or '(none)'}\n\n"
          "| mutant | result | caught by test | verdicts that differ | seconds |\n|---|---|---|---|---|", flush=True)
    survived = 0
    for name in names:
        result, by, seconds, seen = run_mutant(name, *MUTANTS[name], tuple(args.tests), args.claims, reference)
        survived += result != "caught"
        print(f"| {name} | {result} | {by or '—'} | {'; '.join(seen) or '—'} | {seconds:.0f} |", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
