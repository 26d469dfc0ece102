"""``randnet-check``: list, run and report the claims; a quick demo of the power decomposition.

    randnet-check list
    randnet-check run CLAIM [--widths 64,128 --depth 20 --norm ln ... --out DIR]
    randnet-check suite [--mode quick|full --out reports --jobs 2 --only T1,P6]
    randnet-check demo [--width 32 --depth 8]
    randnet-check diagnose package.module:function [--width 64 --depth 24 --out DIR]
    randnet-check sweep FILE.toml [--dry-run ...]     (see :mod:`validation.sweep`)

Exit status: 0 when the command ran (whatever the verdicts), 1 for a bad argument or input (a
message in plain words on stderr, no traceback), 2 for a malformed command line, 3 when ``suite``
ran but some claim raised an error (recorded in the report).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import randnet
import randnet.plugins
from randnet import BUILTIN_DATASETS, NetConfig, load_array, parse_distribution
from randnet.norms import parse_norm

from .backends import BACKENDS
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


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
nonnegative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
nonnegative_float = _number(float, lambda v: np.isfinite(v) and v >= 0, "a finite number >= 0")


def positive_ints(text: str) -> tuple[int, ...]:
    """``"64,128"`` -> ``(64, 128)``."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if not values or min(values) < 1:
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


def norm_spec(text: str) -> str:
    """A built-in norm (``ln``, ``gn+pn``…) or a user's ``package.module:function`` (imported and checked now)."""
    try:
        if ":" in text:
            randnet.plugins.register_plugin(text.partition("+")[0].strip())
        else:
            parse_norm(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def claim_keys(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        raise argparse.ArgumentTypeError(f"expected claim keys separated by commas, got {text!r}")
    return keys


# -- configuration overrides ---------------------------------------------------------------------------
NET_OPTIONS = ("depth", "norm", "groups", "activation", "gamma", "beta", "weight", "eps", "dtype")
DATA_OPTIONS = ("dataset", "n_inputs", "size")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("widths", *NET_OPTIONS, *DATA_OPTIONS) if getattr(args, k, None) is not None}


def _dataset(spec: randnet.DatasetSpec, opts: dict[str, Any]) -> randnet.DatasetSpec:
    changes: dict[str, Any] = {}
    if "dataset" in opts:
        d = opts["dataset"]
        changes.update(dict(name=d, path=None) if d in BUILTIN_DATASETS else dict(path=d))
    if "n_inputs" in opts:
        changes["n"] = opts["n_inputs"]
    if "size" in opts:
        changes.update(height=opts["size"], width=opts["size"])
    return dataclasses.replace(spec, **changes)


def _override_net(config: NetConfig, opts: dict[str, Any]) -> list[NetConfig]:
    changes = {k: opts[k] for k in NET_OPTIONS if k in opts}
    if any(k in opts for k in DATA_OPTIONS):
        changes["dataset"] = _dataset(config.dataset, opts)
    widths = opts.get("widths")
    if widths is None:
        return [config.replace(**changes)]
    return [config.replace(widths=w, **changes) for w in widths]


def override(config: Any, opts: dict[str, Any]) -> tuple[list[Any], set[str]]:
    """Apply the command-line options ``opts`` to ``config``: the configurations that result (one per
    width when ``widths`` is given) and the options that did not apply.

    A :class:`NetConfig` takes every option. Another dataclass takes the options naming one of its
    fields (``widths`` may set a field ``width``; the dataset options a ``dataset`` field), and its
    fields that hold a :class:`NetConfig` (e.g. a panel of norms over one net) take the rest.
    """
    if isinstance(config, NetConfig):
        return _override_net(config, opts), set()
    if not dataclasses.is_dataclass(config):
        return [config], set(opts)
    fields = {f.name for f in dataclasses.fields(config)}
    width_field = next((f for f in ("widths", "width") if f in fields), None)
    direct = {k: v for k, v in opts.items() if k in fields and k in NET_OPTIONS}
    used = set(direct)
    if "dataset" in fields and isinstance(config.dataset, randnet.DatasetSpec) and set(opts) & set(DATA_OPTIONS):
        direct["dataset"] = _dataset(config.dataset, opts)
        used |= set(opts) & set(DATA_OPTIONS)
    if width_field and "widths" in opts:
        used.add("widths")
    nets = [f for f in sorted(fields) if isinstance(getattr(config, f), NetConfig)]
    rest = {k: v for k, v in opts.items() if k not in used}
    if nets:
        used |= set(rest)
    out = []
    for w in opts["widths"] if "widths" in used else (None,):
        changes = dict(direct)
        if w is not None and width_field:
            changes[width_field] = w
        for f in nets:
            nested = {k: v for k, v in rest.items() if k != "widths"}
            if w is not None and not width_field:
                nested["widths"] = (w,)
            changes[f] = _override_net(getattr(config, f), nested)[0]
        out.append(dataclasses.replace(config, **changes))
    return out, set(opts) - used


def unique(configs: Sequence[Any]) -> list[Any]:
    """Configurations without repeats (same digest), in order."""
    from .store import config_digest

    seen, out = set(), []
    for c in configs:
        d = config_digest(c)
        if d not in seen:
            seen.add(d)
            out.append(c)
    return out


# -- commands ------------------------------------------------------------------------------------------
def _registry() -> dict:
    import theorems

    return theorems.REGISTRY


def _out_of_scope() -> dict:
    import theorems

    return theorems.OUT_OF_SCOPE


def _claim(key: str):
    registry = _registry()
    if key not in registry:
        raise UserError(f"unknown claim {key!r}; available: {', '.join(sorted(registry)) or '(none registered)'}")
    return registry[key]


def cmd_list(args: argparse.Namespace) -> int:
    registry = _registry()
    if not registry:
        print("no claims registered")
    width = max((len(k) for k in registry), default=0)
    for key in sorted(registry):
        c = registry[key]
        extra = f"  [sweep: {c.sweep}]" if c.sweep else ""
        print(f"{key:<{width}}  {c.title}{extra}")
    for key, entry in sorted(_out_of_scope().items()):
        print(f"{key:<{width}}  {entry.title}  [out of scope, not checked: {entry.reason}]")
    return 0


def _run_and_report(claims, configs_for, args, out: Path, not_checked=()) -> int:
    """Run each claim, draw its plots and add it to the report in ``out`` (with the out-of-scope entries
    ``not_checked`` listed); returns the number of errors."""
    from .engine import run_claim
    from .plots import draw
    from .report import Report

    report = Report(out, mode=args.mode, seed=args.seed, command=["randnet-check", *args.argv])
    for entry in not_checked:
        report.add_out_of_scope(entry)
    errors = 0
    for n, claim in enumerate(claims, 1):
        print(f"[{n}/{len(claims)}] {claim.key}: {claim.title}", file=sys.stderr)
        try:
            result = run_claim(claim, configs_for(claim), args.realizations, seed=args.seed, mode=args.mode,
                               backend=args.backend, jobs=args.jobs, store=out / ".store",
                               progress=not args.no_progress)
        except Exception as e:  # recorded in the report; the other claims still run
            errors += 1
            report.add_error(claim.key, claim.title, e)
            print(f"  ERROR {type(e).__name__}: {e}", file=sys.stderr)
            continue
        paths, plot_errors = draw(result, out)
        report.add(result, paths, plot_errors)
        for r in result.results:
            neg = "negative controls rejected" if r.negative_controls_rejected else "NEGATIVE CONTROL NOT REJECTED"
            print(f"  {r.verdict:<18} {r.label}  ({neg})")
        for t in result.trends:
            print(f"  {t.verdict:<18} trend over {t.sweep}: {t.label}")
        for e in plot_errors:
            print(f"  plot error: {e}", file=sys.stderr)
        print(f"  => {result.verdict} in {result.seconds:.1f} s", file=sys.stderr)
    print(f"report: {out / 'REPORT.md'}")
    return errors


def cmd_run(args: argparse.Namespace) -> int:
    claim = _claim(args.claim)
    opts = _given(args)
    if "dataset" in opts and opts["dataset"] not in BUILTIN_DATASETS:
        load_array(opts["dataset"])  # a missing or malformed file is reported before anything runs
    configs, ignored = [], set()
    for c in claim.configs(args.mode):
        new, skipped = override(c, opts)
        configs += new
        ignored |= skipped
    if ignored:
        names = ", ".join("--" + k.replace("_", "-") for k in sorted(ignored))
        print(f"note: {names} do(es) not apply to the configurations of claim {claim.key} (ignored)", file=sys.stderr)
    configs = unique(configs)
    out = Path(args.out or Path("runs") / claim.key)
    return 3 if _run_and_report([claim], lambda _: configs, args, out) else 0


def cmd_suite(args: argparse.Namespace) -> int:
    registry, outside = _registry(), _out_of_scope()
    keys = sorted(registry) + sorted(outside) if args.only is None else list(args.only)
    unknown = [k for k in keys if k not in registry and k not in outside]
    if unknown:
        raise UserError(f"unknown claim(s) {', '.join(unknown)}; available: {', '.join(sorted(registry))}")
    return 3 if _run_and_report([registry[k] for k in keys if k in registry], lambda _: None, args, Path(args.out),
                                [outside[k] for k in keys if k in outside]) else 0


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
    from theorems import diagnose

    from .backends import execute
    from .plots_proxy import draw_diagnosis

    changes = {k: v for k, v in (("widths", args.width), ("depth", args.depth)) if v is not None}
    config = diagnose.diagnose_config(args.reference, args.mode, **changes)
    realizations = args.realizations or diagnose.REALIZATIONS[args.mode]
    rows = execute(diagnose.measure, [(config, randnet.realization_seed(args.seed, k)) for k in range(realizations)],
                   backend=args.backend, jobs=args.jobs, progress=not args.no_progress, desc=config.label())
    diagnosis = diagnose.summarize(config, {q: np.stack([r[q] for r in rows]) for q in rows[0]})
    out = Path(args.out or Path("runs") / f"diagnose-{config.name}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "diagnosis.json").write_text(json.dumps(diagnosis.describe(), indent=1, default=str))
    print("\n".join(diagnosis.lines()))
    for path in draw_diagnosis(diagnosis, out):
        print(f"plot: {path}")
    return 0


# -- parser --------------------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser, out_default: str | None, out_help: str) -> None:
    p.add_argument("--mode", choices=("quick", "full"), default="quick",
                   help="default configurations and realizations: quick (minutes) or full (the paper's scale)")
    p.add_argument("--realizations", type=positive_int, help="realizations per configuration (default: the claim's)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="run seed (default 0)")
    p.add_argument("--jobs", type=positive_int, default=max(1, min(os.cpu_count() or 1, 2)),
                   help="worker processes (default: min(2, CPUs))")
    p.add_argument("--backend", choices=BACKENDS, default="joblib", help="where realizations run (default joblib)")
    p.add_argument("--out", default=out_default, help=out_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="randnet-check",
        description="Check the claims of the Proxy Norm paper (Labatie et al., Definition 1) and of 'Is Batch Norm "
                    "unique?' by Monte Carlo over random networks, with intervals and verdicts.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list the registered claims", description="List the registered claims.")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run one claim", description=(
        "Run one claim on its default configurations, overridden by the options given. For claims whose "
        "configurations are not random-net configurations, only options naming one of their attributes apply; "
        "the others are reported as ignored."))
    p.add_argument("claim", metavar="CLAIM", help="claim key (see 'randnet-check list')")
    _common(p, None, "output folder (default runs/CLAIM)")
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
    g.add_argument("--dataset", help=f"built-in ({', '.join(BUILTIN_DATASETS)}) or a .npy/.npz file of shape "
                                     "(N, H, W, C)")
    g.add_argument("--n-inputs", type=positive_int, help="N, inputs of a built-in dataset")
    g.add_argument("--size", type=positive_int, help="H = W of a built-in dataset")
    g.add_argument("--eps", type=nonnegative_float, help="ε of the normalization")
    g.add_argument("--dtype", choices=("float32", "float64"), help="dtype of the forward pass")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("suite", help="run every registered claim and write the report", description=(
        "Run every registered claim (or those named by --only) on its default configurations and write "
        "REPORT.md, results.json and the plots into the output folder, claim after claim."))
    _common(p, "reports", "output folder (default reports)")
    p.add_argument("--only", type=claim_keys, help="comma-separated claim keys, e.g. T1,P6")
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
    try:
        return args.func(args)
    except (UserError, ValueError, FileNotFoundError, ZeroDivisionError) as e:
        print(f"randnet-check: error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    sys.exit(main())
