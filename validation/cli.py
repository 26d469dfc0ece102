"""``randnet-check``: list, run and report the claims; a quick demo of the power decomposition.

    randnet-check list
    randnet-check run CLAIM [--widths 64,128 --depth 20 --norm ln ... --out DIR]
    randnet-check suite [--mode quick|full --out reports --jobs 2 --only T1,P6 --baseline reports/results.json]
    randnet-check demo [--width 32 --depth 8]
    randnet-check diagnose package.module:function [--width 64 --depth 24 --out DIR]
    randnet-check sweep FILE.toml [--dry-run ...]     (see :mod:`validation.sweep`)
    randnet-check reproduce paper [--out reports/paper --realizations 16 --jobs 2]   (see :mod:`validation.reproduce`)

Exit status (:data:`validation.runner.EXIT_CODES`, also in ``--help``): 0 every claim ran and no verdict is
FAIL and every negative control was rejected (INCONCLUSIVE and HYPOTHESIS NOT MET included); 1 a bad argument or
input (one line in plain words on stderr, no traceback, nothing ran); 2 a malformed command line; 3 a claim
could not run or the run could not finish (the report of what ran is in ``OUT/failed/``); 4 some claim FAILs;
5 some negative control was not rejected; 6 (``suite --baseline FILE.json`` only, which then never gives 4 or 5) a
claim's verdict or a negative control's rejection differs from the baseline's (:mod:`validation.baseline`);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM); 141 the output pipe was closed.
``--report-only``: 0 whatever the verdicts (and the differences from a baseline, which are still printed).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import randnet
from randnet import BUILTIN_DATASETS, parse_distribution
from randnet.checks import int_words, is_int, is_number
from randnet.datasets import check_scale, check_source
from randnet.norms import parse_norm
from randnet.plugins import resolve_norm
from theorems import diagnose
from theorems.base import OUT_OF_SCOPE, REGISTRY, RUN_MODES, OutOfScope, unknown_claim

from .backends import BACKENDS, execute, shutdown_workers
from .baseline import differences as baseline_differences, load_baseline
from .configs import ignored_shape_fields, nets, override, unique
from .engine import DEFAULT_MAX_REALIZATIONS
from .plots_proxy import draw_diagnosis
from .realization import MAX_REALIZATIONS, HypothesisNotMetError, single_threaded
from .report import until_decided_text, write_atomic
from .runner import EXIT_ERROR, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_PIPE, EXIT_TERMINATED, RunError, Task, \
    announce_status, exit_codes_text, exit_status, run_and_report, writable_folder
from .sweep import add_sweep_command

DEMO_NORMS = ("bn", "ln", "in", "gn")


class UserError(Exception):
    """A problem with the user's request, reported as one line on stderr."""


# -- argument types ------------------------------------------------------------------------------------
def _number(convert, valid, what: str):
    """An argparse type: ``convert(text)``, refused with "expected {what}" unless ``valid(value)``."""
    def parse(text: str):
        try:
            v = convert(text)
        except ValueError:
            v = None
        if v is None or not valid(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v
    return parse


positive_int = _number(int, is_int, int_words(1))
realizations_int = _number(int, lambda v: is_int(v) and v <= MAX_REALIZATIONS,
                           f"a positive integer at most {MAX_REALIZATIONS:,}")
nonnegative_int = _number(int, lambda v: is_int(v, 0), int_words(0))
nonnegative_float = _number(float, lambda v: is_number(v, 0), "a finite number >= 0")


def positive_ints(text: str) -> tuple[int, ...]:
    """``"64,128"`` -> ``(64, 128)``."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if not values or not all(is_int(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def _checked(check):
    """An argparse type that validates with a randnet function (its ValueError becomes the message)."""
    def parse(text: str) -> str:
        try:
            check(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text
    parse.__name__ = check.__name__
    return parse


def _norm(text: str) -> None:
    """A built-in norm (``ln``, ``gn+pn``…) or a user's ``package.module:function`` (imported and checked now)."""
    parse_norm(resolve_norm(text)[0])


norm_spec = _checked(_norm)


def claim_keys(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        raise argparse.ArgumentTypeError(f"expected claim keys separated by commas, got {text!r}")
    return keys


# -- configuration overrides ---------------------------------------------------------------------------
NET_OPTIONS = ("depth", "norm", "groups", "activation", "gamma", "beta", "weight", "eps", "dtype", "net_backend",
               "device")
DATA_OPTIONS = ("dataset", "n_inputs", "size")
SHAPE_OPTIONS = {"n_inputs": ("n",), "size": ("height", "width")}
"""The options that set a dataset's shape, and the :class:`~randnet.DatasetSpec` fields they set."""


def _given(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("widths", *NET_OPTIONS, *DATA_OPTIONS) if getattr(args, k, None) is not None}


def dataset_table(opts: dict[str, Any]) -> dict[str, Any] | None:
    """The ``dataset`` value of :func:`validation.configs.override` that ``--dataset`` (its ``source``),
    ``--n-inputs`` and ``--size`` give (:data:`SHAPE_OPTIONS`); None when none of them is given."""
    if not any(k in opts for k in DATA_OPTIONS):
        return None
    table = {} if opts.get("dataset") is None else {"source": opts["dataset"]}
    for option, fields in SHAPE_OPTIONS.items():
        if option in opts:
            table.update(dict.fromkeys(fields, opts[option]))
    return table


def apply_options(config: Any, opts: dict[str, Any]) -> tuple[list[Any], set[str]]:
    """Apply the command-line options ``opts`` to ``config`` by :func:`validation.configs.override`: the
    configurations that result (one per width when ``widths`` is given) and the options that did not apply.

    ``--dataset`` (a built-in name, a file or ``cifar10-bin:PATH``: the ``source`` of
    :meth:`randnet.DatasetSpec.with_source`), ``--n-inputs`` and ``--size`` change the configuration's
    :class:`~randnet.DatasetSpec` together (``n``, ``height = width``); ``--net-backend`` sets
    :attr:`randnet.NetConfig.backend` (the name :data:`validation.configs.ALIASES` gives it).
    """
    changes = {k: opts[k] for k in NET_OPTIONS if k in opts}
    table = dataset_table(opts)
    if table is not None:
        changes["dataset"] = table
    out, unused = [], set()
    for w in opts.get("widths", (None,)):
        new, skipped = override(config, changes if w is None else {**changes, "widths": w})
        out.append(new)
        unused |= {u.name for u in skipped}
    names = {"dataset": [k for k in DATA_OPTIONS if k in opts]}
    return out, {option for name in unused for option in names.get(name, [name])}


# -- commands ------------------------------------------------------------------------------------------
def _claim(key: str):
    if key not in REGISTRY:
        raise UserError(unknown_claim(key))
    return REGISTRY[key]


def cmd_list(args: argparse.Namespace) -> int:
    registry = REGISTRY
    if not registry:
        print("no claims registered")
    width = max((len(k) for k in registry), default=0)
    for key in sorted(registry):
        c = registry[key]
        extra = f"  [sweep: {c.sweep}]" if c.sweep else ""
        print(f"{key:<{width}}  {c.title}{extra}")
    for key, entry in sorted(OUT_OF_SCOPE.items()):
        print(f"{key:<{width}}  {entry.title}  [out of scope, not checked: {entry.reason}]")
    return 0


def _run_and_report(tasks: Sequence[Task], args: argparse.Namespace, out: Path,
                    not_checked: Sequence[OutOfScope] = (), baseline: dict | None = None) -> int:
    """Run each claim, draw its plots and add it to the report in ``out`` (:func:`validation.runner.run_and_report`;
    the out-of-scope entries ``not_checked`` listed there too), saying how each went; with a ``baseline`` (a
    ``results.json`` document), print how this run's verdicts differ from it. Returns the exit status
    (:func:`validation.runner.exit_status`)."""
    def start(index: int, total: int, task: Task) -> None:
        print(f"[{index}/{total}] {task.claim.key}: {task.claim.title}", file=sys.stderr)

    def done(task: Task, result, plot_errors: Sequence[str]) -> None:
        if isinstance(result, HypothesisNotMetError):
            print(f"  HYPOTHESIS NOT MET (nothing computable): {result}")
            return
        if isinstance(result, Exception):
            print(f"  ERROR {type(result).__name__}: {result}", file=sys.stderr)
            return
        for r in result.results:
            neg = "negative controls rejected" if r.negative_controls_rejected else "NEGATIVE CONTROL NOT REJECTED"
            print(f"  {r.verdict:<18} {r.label}  ({neg})")
        for t in result.trends:
            print(f"  {t.verdict:<18} trend over {t.sweep}: {t.label}")
        for a in result.asymptotic:
            print(f"  {a.verdict:<18} overall over {a.sweep} (widest, C = ∞, trend): {a.label}")
        if result.batches:
            print(f"  until decided: {until_decided_text(result)}", file=sys.stderr)
        for e in plot_errors:
            print(f"  plot error: {e}", file=sys.stderr)
        print(f"  => {result.verdict} in {result.seconds:.1f} s", file=sys.stderr)

    outcome = run_and_report(tasks, out, mode=args.mode, seed=args.seed, backend=args.backend, jobs=args.jobs,
                             store=out / ".store", progress=not args.no_progress,
                             command=["randnet-check", *args.argv], not_checked=not_checked, on_start=start,
                             on_done=done, until_decided=args.until_decided, max_realizations=args.max_realizations)
    if outcome.report == out:
        print(f"report: {out / 'REPORT.md'}")
    else:
        kept = (f"the last good report {out / 'REPORT.md'} is kept" if (out / "REPORT.md").exists()
                else f"no earlier report in {out}")
        print(f"report: {outcome.report / 'REPORT.md'} (a claim could not run; {kept})")
    differences = None
    if baseline is not None:
        current = json.loads((outcome.report / "results.json").read_text(encoding="utf-8"))
        differences = baseline_differences(current, baseline, getattr(args, "only", None))
        where = args.baseline
        print(f"baseline {where}: {len(differences)} difference(s)" if differences else
              f"baseline {where}: every verdict and negative control as in the baseline")
        for line in differences:
            print(f"  DIFFERS {line}")
    return announce_status(exit_status(outcome.results, outcome.errors, args.report_only, differences))


def _check_until_decided(args: argparse.Namespace) -> None:
    """``--max-realizations`` only with ``--until-decided``, and not below ``--realizations``."""
    if args.max_realizations is None:
        args.max_realizations = DEFAULT_MAX_REALIZATIONS
        return
    if not args.until_decided:
        raise UserError("--max-realizations applies only with --until-decided")
    if args.realizations is not None and args.max_realizations < args.realizations:
        raise UserError(f"--max-realizations {args.max_realizations} is below --realizations {args.realizations}")


def cmd_run(args: argparse.Namespace) -> int:
    _check_until_decided(args)
    claim = _claim(args.claim)
    opts = _given(args)
    data = None
    if "dataset" in opts:
        data = check_source(opts["dataset"])  # a missing or malformed file is reported before anything runs
        ignored = ignored_shape_fields(dataset_table(opts))
        unused = [k for k, fields in SHAPE_OPTIONS.items() if k in opts and set(fields) & set(ignored)]
        if unused:
            names = ", ".join("--" + k.replace("_", "-") for k in unused)
            print(f"note: {names} apply to built-in datasets and cifar10-bin only; {opts['dataset']} is used as it "
                  f"is, of shape (N, H, W, C) = {data.shape} (ignored)", file=sys.stderr)
            opts = {k: v for k, v in opts.items() if k not in unused}
    configs, ignored = [], set()
    for c in claim.configs(args.mode):
        new, skipped = apply_options(c, opts)
        configs += new
        ignored |= skipped
    if ignored:
        names = ", ".join("--" + k.replace("_", "-") for k in sorted(ignored))
        print(f"note: {names} do(es) not apply to the configurations of claim {claim.key} (ignored)", file=sys.stderr)
    if data is not None:  # data the forward pass cannot carry, before anything runs
        for dtype in sorted({net.dtype for c in configs for net in nets(c)}):
            check_scale(data, dtype, opts["dataset"])
    out = Path(args.out or Path("runs") / claim.key)
    return _run_and_report([Task(claim, tuple(unique(configs)), args.realizations)], args, out)


def cmd_suite(args: argparse.Namespace) -> int:
    _check_until_decided(args)
    keys = sorted(REGISTRY) + sorted(OUT_OF_SCOPE) if args.only is None else list(args.only)
    unknown = [k for k in keys if k not in REGISTRY and k not in OUT_OF_SCOPE]
    if unknown:
        raise UserError(f"unknown claim(s) {', '.join(unknown)}; available: {', '.join(sorted(REGISTRY))}")
    baseline = None if args.baseline is None else load_baseline(args.baseline)  # read before anything runs
    tasks = [Task(REGISTRY[k], None, args.realizations) for k in keys if k in REGISTRY]
    not_checked = [OUT_OF_SCOPE[k] for k in keys if k in OUT_OF_SCOPE]
    return _run_and_report(tasks, args, Path(args.out), not_checked, baseline)


def _demo_groups(width: int) -> int:
    """G for the demo's GN: the largest divisor of the width that is at most 8."""
    return max(g for g in range(1, min(width, 8) + 1) if width % g == 0)


def cmd_demo(args: argparse.Namespace) -> int:
    base = randnet.reference_config(width=args.width, depth=args.depth, n=args.n_inputs)
    ss = randnet.realization_seed(args.seed, 0)
    data = randnet.draw_data(base, ss)
    print(f"One random net (Definition 1) at the reference configuration scaled down: C = {args.width}, "
          f"L = {args.depth}, K = {base.kernel_size}, {base.activation}, ω ~ {base.weight}, γ ~ {base.gamma}, "
          f"β ~ {base.beta}, {base.dtype}; dataset '{base.dataset.name}' of {data.shape[0]} inputs "
          f"{data.shape[1]}×{data.shape[2]}×{data.shape[3]}; seed {args.seed}. "
          "Same data and parameters for every norm.")
    print("Power decomposition of y^l (Eq. 5), layer-level terms: (1) P(μ_c) dataset scale, (2) P(σ_c(μ_x,c)) "
          "instance means vary, (3) P(μ_c(σ_x,c)) mean instance spread, (4) P(σ_c(σ_x,c)) instance spreads vary.")
    start = time.perf_counter()
    for norm in DEMO_NORMS:
        groups = _demo_groups(args.width) if norm == "gn" else None
        config = base.replace(norm=norm, groups=groups)
        print(f"\nnorm = {norm}" + (f" (G = {groups})" if groups else ""))
        print(f"{'layer':>5} {'(1)':>9} {'(2)':>9} {'(3)':>9} {'(4)':>9} {'P(y)':>9}")
        for s in randnet.layer_stream(config, ss, data):
            t = s.power_y.mean(axis=1)
            print(f"{s.index:>5} " + " ".join(f"{v:9.4f}" for v in t) + f" {t.sum():9.4f}")
    print(f"\n({time.perf_counter() - start:.1f} s)")
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    """The paper's framework as a diagnostic of a user's normalization (no verdict): see :mod:`theorems.diagnose`."""
    changes = {k: v for k, v in (("widths", args.width), ("depth", args.depth)) if v is not None}
    config = diagnose.diagnose_config(args.reference, args.mode, **changes)
    realizations = args.realizations or diagnose.REALIZATIONS[args.mode]
    out = writable_folder(args.out or Path("runs") / f"diagnose-{config.name}")
    try:
        rows = execute(single_threaded, [(diagnose.measure, config, randnet.realization_seed(args.seed, k))
                                         for k in range(realizations)],
                       backend=args.backend, jobs=args.jobs, progress=not args.no_progress, desc=config.label())
    finally:
        shutdown_workers()
    diagnosis = diagnose.summarize(config, {q: np.stack([r[q] for r in rows]) for q in rows[0]})
    write_atomic(out / "diagnosis.json", json.dumps(diagnosis.describe(), indent=1, default=str))
    print("\n".join(diagnosis.lines()))
    for path in draw_diagnosis(diagnosis, out):
        print(f"plot: {path}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Fig. 2 (top row) and Fig. 5 at the paper's configuration: :func:`validation.reproduce.reproduce_paper`."""
    from theorems._panels import paper_panel
    from .reproduce import reproduce_paper

    config = paper_panel(args.width, args.depth, args.n_inputs, args.size)
    if args.net_backend is not None or args.device is not None:
        net = config.net.replace(**{k: v for k, v in (("backend", args.net_backend), ("device", args.device))
                                    if v is not None})
        config = dataclasses.replace(config, net=net)
    if args.scheduler is not None and args.backend != "dask":
        raise UserError(f"a scheduler ({args.scheduler}) needs --backend dask, not {args.backend!r}")
    document = reproduce_paper(args.out, realizations=args.realizations, seed=args.seed, backend=args.backend,
                               jobs=args.jobs, scheduler=args.scheduler, config=config, report_only=args.report_only,
                               progress=not args.no_progress, command=["randnet-check", *args.argv])
    print(f"report: {Path(args.out) / 'REPORT.md'}")
    for row in document["statements"]:
        print(f"  {row['verdict']:<13} {row['figure']}: {row['paper'][:90]}")
    return 0


# -- parser --------------------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser, out_default: str | None, out_help: str) -> None:
    p.add_argument("--mode", choices=RUN_MODES, default="quick",
                   help="default configurations and realizations: quick (minutes) or full (the paper's scale)")
    p.add_argument("--realizations", type=realizations_int,
                   help=f"realizations per configuration, at most {MAX_REALIZATIONS:,} (default: the claim's)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="run seed (default 0)")
    p.add_argument("--jobs", type=positive_int, default=max(1, min(os.cpu_count() or 1, 2)),
                   help="worker processes (default: min(2, CPUs))")
    p.add_argument("--backend", choices=BACKENDS, default="joblib", help="where realizations run (default joblib)")
    p.add_argument("--out", default=out_default, help=out_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--report-only", action="store_true",
                   help="exit 0 whatever the verdicts (3 still when a claim could not run)")


def _until_decided_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--until-decided", action="store_true",
                   help="add realizations in batches (doubling; the store keeps the earlier ones, realization k keeps "
                        "its seed) until no verdict read from a betting confidence sequence (a bounded quantity) is "
                        "INCONCLUSIVE, or the cap; Student-t and Clopper-Pearson verdicts are not confidence "
                        "sequences and never make it add realizations. The report says how many each claim needed")
    p.add_argument("--max-realizations", type=realizations_int, metavar="N",
                   help=f"the cap of --until-decided (default {DEFAULT_MAX_REALIZATIONS})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="randnet-check",
        description="Check the claims of the Proxy Norm paper (Labatie et al., Definition 1) and of 'Is Batch Norm "
                    "unique?' by Monte Carlo over random networks, with intervals and verdicts.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list the registered claims", description="List the registered claims.")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run one claim", epilog=exit_codes_text(), description=(
        "Run one claim on its default configurations, overridden by the options given. For claims whose "
        "configurations are not random-net configurations, only options naming one of their attributes apply; "
        "the others are reported as ignored."))
    p.add_argument("claim", metavar="CLAIM", help="claim key (see 'randnet-check list')")
    _common(p, None, "output folder (default runs/CLAIM)")
    _until_decided_options(p)
    g = p.add_argument_group("configuration overrides")
    g.add_argument("--widths", type=positive_ints, help="widths C, comma-separated: one configuration per width")
    g.add_argument("--depth", type=positive_int, help="number of layers L")
    g.add_argument("--norm", type=norm_spec, help="bn | ln | in | gn | none | bmlv | bmlv_c | lmbv | lmbv_c | preln | "
                                                  "regnorm | regnorm_ln, optionally +ws / +pn, or your own "
                                                  "normalization as package.module:function")
    g.add_argument("--groups", type=positive_int, help="G for gn")
    g.add_argument("--activation", type=_checked(randnet.get_activation),
                   help=f"one of {', '.join(randnet.ACTIVATIONS)}")
    g.add_argument("--gamma", type=_checked(parse_distribution), help="ν_γ, e.g. 'normal(1,0.2)'")
    g.add_argument("--beta", type=_checked(parse_distribution), help="ν_β, e.g. 'normal(0,0.2)'")
    g.add_argument("--weight", type=_checked(parse_distribution), help="ν_ω, e.g. 'truncated_normal(2)'")
    g.add_argument("--dataset", help=f"built-in ({', '.join(BUILTIN_DATASETS)}), a .npy/.npz file of shape "
                                     "(N, H, W, C), or cifar10-bin:PATH (a cifar-10-batches-bin folder or .bin file)")
    g.add_argument("--n-inputs", type=positive_int, help="N, inputs of a built-in or cifar10-bin dataset")
    g.add_argument("--size", type=positive_int, help="H = W of a built-in dataset (the crop of natural, cifar10-bin)")
    g.add_argument("--eps", type=nonnegative_float, help="ε of the normalization")
    g.add_argument("--dtype", choices=("float32", "float64"), help="dtype of the forward pass")
    g.add_argument("--net-backend", choices=randnet.config.BACKENDS,
                   help="where each net's forward pass runs: numba (default) or torch (with --device)")
    g.add_argument("--device", help="torch device of --net-backend torch: cpu (default), cuda or cuda:N")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("suite", help="run every registered claim and write the report", epilog=exit_codes_text(),
                       description=(
        "Run every registered claim (or those named by --only) on its default configurations and write "
        "REPORT.md, results.json and the plots into the output folder, claim after claim."))
    _common(p, "reports", "output folder (default reports)")
    _until_decided_options(p)
    p.add_argument("--only", type=claim_keys, help="comma-separated claim keys, e.g. T1,P6")
    p.add_argument("--baseline", metavar="FILE.json",
                   help="the results.json of an earlier suite run: print every claim verdict and negative-control "
                        "rejection that differs from it, one line each, and exit 6 if any does, 0 if none (FAIL "
                        "equal to the baseline's included; 4 and 5 are not used)")
    p.set_defaults(func=cmd_suite)

    p = sub.add_parser("demo", help="power decomposition of one small random net, per norm (seconds)",
                       description="Sample one random net at the reference configuration scaled down and print the "
                                   "layer-level power decomposition of y^l per layer for bn, ln, in and gn.")
    p.add_argument("--width", type=positive_int, default=32, help="C (default 32)")
    p.add_argument("--depth", type=positive_int, default=8, help="L (default 8)")
    p.add_argument("--n-inputs", type=positive_int, default=32, help="N inputs (default 32)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed (default 0)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("diagnose", help="diagnose your own normalization (power plot, collapse, variability)",
                       description="Run your normalization package.module:function (a function f(x, config) of the "
                                   "(N, H, W, C) conv output returning an array of the same shape) in random nets "
                                   "beside LN and BN, and report its power plot, its collapse curve against LN's "
                                   "bound ρ^{l−1}, its instance variability against IN's (0) and its distance to "
                                   "BN's power profile. No verdict.")
    p.add_argument("reference", metavar="MODULE:FUNCTION", type=norm_spec,
                   help="e.g. randnet.examples.rms_norm:rms_norm (must be importable: installed or on PYTHONPATH), "
                        "or a built-in normalization's name (e.g. bmlv, preln)")
    _common(p, None, "output folder (default runs/diagnose-NAME)")
    p.add_argument("--width", type=positive_int, help="C (default: 64 quick, 1024 full)")
    p.add_argument("--depth", type=positive_int, help="L (default: 24 quick, 50 full)")
    p.set_defaults(func=cmd_diagnose)

    add_sweep_command(sub)

    from .reproduce import DEFAULT_REALIZATIONS, LIMIT_INPUTS, MIN_REALIZATIONS
    p = sub.add_parser("reproduce", help="reproduce the paper's Fig. 2 (top row) and Fig. 5 at its configuration",
                       description=(
        "Run Fig. 2 (top row: power plots of bn, in, ln, gn (G=32), ln+pn, ln+ws) and Fig. 5 (LN's 1 − P(μ_c(y^l)) "
        "against ρ^{l−1}, the LN-as-scaling ratio r^l, the linearity Λ^l of LN and GN) at the paper's configuration: "
        "ReLU, C=1024, K=3, β~N(0,0.2²), γ~N(1,0.2²), float32, depth 50, 128 natural 32×32 images (crops of the "
        "photographs bundled with scikit-image) with a stride-2 first conv. Both figures come from the same "
        "realizations, kept in the resumable store OUT/.store. Writes OUT/REPORT.md (per figure: the PNG and a table "
        "of the paper's sentences against the measured quantities, intervals and verdicts), OUT/results.json, the "
        "figures, the wall time per figure and per realization beside the cost model's prediction, and "
        f"OUT/claims/ (the claims' own report). The C=∞ curves of the infinite-width limit (on the first "
        f"{LIMIT_INPUTS} inputs) are drawn too. Progress on stderr."),
        epilog="exit status: 0 the report was written (whatever the verdicts: they are the findings); 1 bad argument "
               "or, with --report-only, realizations missing from the store; 3 the run could not finish; "
               "130/143 interrupted (a later run resumes from the store).")
    p.add_argument("target", choices=("paper",), help="what to reproduce: paper (Fig. 2 top row and Fig. 5)")
    p.add_argument("--out", default="reports/paper", help="output folder, and its .store (default reports/paper)")
    p.add_argument("--realizations", type=realizations_int, default=DEFAULT_REALIZATIONS,
                   help=f"realizations (default {DEFAULT_REALIZATIONS}, about an hour per figure on an idle 2-core "
                        f"machine; at least {MIN_REALIZATIONS} for intervals worth reading; the paper used 50)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="run seed (default 0)")
    p.add_argument("--jobs", type=positive_int, default=max(1, min(os.cpu_count() or 1, 2)),
                   help="worker processes (default: min(2, CPUs))")
    p.add_argument("--backend", choices=BACKENDS, default="joblib", help="where realizations run (default joblib)")
    p.add_argument("--scheduler", default=None,
                   help="dask: address of a running scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster of "
                        "--jobs workers)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--report-only", action="store_true",
                   help="re-render the report from the store only (computes nothing; refuses if realizations are "
                        "missing)")
    p.add_argument("--net-backend", choices=randnet.config.BACKENDS,
                   help="where each net's forward pass runs: numba (default) or torch (with --device, e.g. cuda)")
    p.add_argument("--device", help="torch device of --net-backend torch: cpu (default), cuda or cuda:N")
    g = p.add_argument_group("a smaller net (a first look; not the paper's configuration)")
    g.add_argument("--width", type=positive_int, default=1024, help="C (default 1024)")
    g.add_argument("--depth", type=positive_int, default=50, help="L (default 50)")
    g.add_argument("--n-inputs", type=positive_int, default=128, help="N (default 128)")
    g.add_argument("--size", type=positive_int, default=32, help="crop H = W before the stride-2 first conv "
                                                                   "(default 32)")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``randnet-check``; user errors exit with a message and a non-zero status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        raise SystemExit(2)
    args.argv = argv
    previous = signal.signal(signal.SIGTERM, _terminate) if hasattr(signal, "SIGTERM") else None
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `randnet-check sweep FILE --dry-run | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(EXIT_PIPE) from None
    except KeyboardInterrupt as e:
        _error("interrupted; what was computed is in the results store, and a later run resumes from it")
        raise SystemExit(EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED) from None
    except RunError as e:
        _error(str(e))
        raise SystemExit(EXIT_ERROR) from None
    except (UserError, ValueError, FileNotFoundError, ConnectionError) as e:
        _error(str(e))
        raise SystemExit(EXIT_INPUT) from None
    except ArithmeticError as e:  # a computation that cannot be carried out (the message names the cause)
        _error(f"{type(e).__name__}: {e}")
        raise SystemExit(EXIT_ERROR) from None
    except OSError as e:  # an output that cannot be written after the run started (full disk, read-only)
        _error(f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}")
        raise SystemExit(EXIT_ERROR) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _error(text: str) -> None:
    print(f"randnet-check: error: {text}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as a Ctrl-C (a plugin's guard lets it through, as it does a real Ctrl-C)."""


def _terminate(signum, frame) -> None:
    """SIGTERM: stop as Ctrl-C does (the report of what ran is kept, the joblib workers are shut down)."""
    raise Terminated


if __name__ == "__main__":
    sys.exit(main())
