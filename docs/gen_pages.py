"""The generated parts of the documentation, from the code itself, so that they cannot drift.

- :func:`claim_section`: for one registered claim (``theorems.REGISTRY``), its configurations in each run mode
  (``claim.configs(mode)``, flattened ``describe()``), their hypotheses (``claim.hypotheses``), comparisons and
  negative controls (``claim.comparisons`` / ``claim.negative_controls``: labels, quantities, relations,
  predictions, tolerances, modes, cells);
- :func:`out_of_scope_section`: for a statement listed as not checked (``theorems.OUT_OF_SCOPE``), why;
- :func:`claims_table`: the list of claims (and out-of-scope entries), by paper, linking to their pages;
- :func:`cli_reference`: every subcommand of ``randnet-check`` from :func:`validation.cli.build_parser`, and the
  exit statuses (:data:`validation.runner.EXIT_CODES`);
- :func:`api_page`: the API reference page of a package (one ``:::`` block per public module);
- :func:`missing_prose`: the registered claims (and out-of-scope entries) without a hand-written page
  ``docs/claims/KEY.md``.

``docs/hooks.py`` runs these during ``mkdocs build``; ``tests/docs`` runs them without MkDocs. Plain functions
returning Markdown; nothing here imports MkDocs.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from theorems.base import OUT_OF_SCOPE, REGISTRY, RUN_MODES, Claim, Comparison, OutOfScope
from validation.configs import differing, distinct_labels, flatten

DOCS = Path(__file__).resolve().parent
PROSE = DOCS / "claims"
"""Hand-written claim pages: ``PROSE / f"{key}.md"``; the build appends the generated section to each."""
GENERATED_HEADING = "## From the code"

PAPERS = (  # (title of the nav section, key prefixes); a key is filed under the first whose prefix it has
    ("Proxy Norm paper (Labatie et al. 2021)", ("P", "T", "FIG")),
    ("Is Batch Norm unique? (Rao & Sohl-Dickstein 2020)", ("RN", "BU")),
    ("Extreme Normalization (Ioffe 2021)", ("EN",)),
)
OTHER_PAPER = "Other claims"
PACKAGES = {"randnet": ("randnet",), "theorems": ("theorems.base", "theorems.diagnose"), "validation": ("validation",)}
"""API pages: name -> the modules (or packages, expanded to their public modules) they document."""
MAX_PREDICTION_VALUES = 4


# -- claims: order and grouping ------------------------------------------------------------------------
def natural_key(key: str) -> tuple:
    """``"P4-train"`` -> ``("P", 4, "-train")``: P1 < P1-eps < P2 < P10."""
    m = re.fullmatch(r"([A-Za-z]+)(\d*)(.*)", key)
    prefix, number, rest = m.groups() if m else (key, "", "")
    return prefix, int(number) if number else -1, rest


def paper(key: str) -> str:
    """The nav section of claim ``key`` (:data:`PAPERS`)."""
    prefix = natural_key(key)[0]
    for title, prefixes in PAPERS:
        if prefix in prefixes:
            return title
    return OTHER_PAPER


def listed() -> list[str]:
    """The keys that have a page: the registered claims and the statements listed as out of scope."""
    return [*REGISTRY, *OUT_OF_SCOPE]


def claims_by_paper(keys: Iterable[str] | None = None) -> list[tuple[str, list[str]]]:
    """``[(paper, [keys in natural order])]`` in the order of :data:`PAPERS`, empty papers left out (default keys:
    :func:`listed`)."""
    keys = sorted(listed() if keys is None else keys, key=natural_key)
    titles = [t for t, _ in PAPERS] + [OTHER_PAPER]
    return [(t, ks) for t in titles if (ks := [k for k in keys if paper(k) == t])]


def prose_path(key: str) -> Path:
    return PROSE / f"{key}.md"


def missing_prose(keys: Iterable[str] | None = None) -> list[str]:
    """Registered claims and out-of-scope entries (or ``keys``) without a hand-written page."""
    return [k for k in sorted(listed() if keys is None else keys, key=natural_key) if not prose_path(k).exists()]


def kind(claim: Claim) -> str:
    """deterministic (every comparison exact), asymptotic (a sweep), statistical, or both of the first and last."""
    if claim.sweep:
        return f"asymptotic (judged over a sweep of {claim.sweep})"
    modes = {c.mode for mode in RUN_MODES for cfg in claim.configs(mode) for c in claim.comparisons(cfg)}
    if modes == {"exact"}:
        return "deterministic (every realization, to a round-off tolerance)"
    return "statistical" if "exact" not in modes else "deterministic and statistical"


# -- formatting --------------------------------------------------------------------------------------------
def esc(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace("*", "\\*").replace("_", "\\_")


def code(text: Any) -> str:
    return f"`{str(text).replace('|', '¦')}`"


def number(x: float) -> str:
    return "NaN" if np.isnan(x) else "∞" if np.isinf(x) else f"{x:.4g}"


def value(v: Any) -> str:
    """A configuration value for a table cell."""
    if v is None:
        return "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(value(x) for x in v)
    if isinstance(v, float):
        return number(v)
    return str(v)


def prediction(c: Comparison) -> str:
    """The prediction per cell: one number when all cells agree, else the first values and the count."""
    p = np.asarray(c.prediction, dtype=float).ravel()
    if p.size == 1 or np.all(p == p[0]):
        text = number(p[0])
    elif p.size <= MAX_PREDICTION_VALUES + 1:
        text = ", ".join(number(x) for x in p)
    else:
        text = ", ".join(number(x) for x in p[:MAX_PREDICTION_VALUES - 1]) + f", …, {number(p[-1])}"
    return text


def bound(c: Comparison) -> str:
    """``relation prediction`` as the verdict rule reads it (the region the measurement must lie in)."""
    rel = {"<=": "≤", ">=": "≥", "==": "="}[c.relation]
    if c.mode == "probability":
        return f"P[{c.quantity} {rel} {prediction(c)}] ≥ {c.level:g}"
    return f"{rel} {prediction(c)}"


def cells(c: Comparison, n: int) -> str:
    labels = list(c.cells) if c.cells is not None else list(range(n))
    if not labels:
        return "—"
    shown = ", ".join(map(str, labels)) if len(labels) <= 6 else f"{labels[0]} … {labels[-1]}"
    return f"{len(labels)} ({c.cell_name}{'' if not c.cell_name else ' '}{shown})"


def indices(members: Sequence[int], total: int) -> str:
    """``[0, 1, 2, 4]`` of 6 -> ``"#1–3, #5"``; all of them -> ``"all"``."""
    if len(members) == total:
        return "all"
    runs, start = [], None
    for i, m in enumerate(members):
        if start is None:
            start = m
        if i + 1 == len(members) or members[i + 1] != m + 1:
            runs.append(f"#{start + 1}" if start == m else f"#{start + 1}–{m + 1}")
            start = None
    return ", ".join(runs) or "none"


# -- one claim ---------------------------------------------------------------------------------------------
def config_table(configs: Sequence[Any]) -> list[str]:
    """The configurations as a table of what tells them apart, and a line of what they share."""
    flats = [flatten(json.loads(json.dumps(c.describe(), default=str))) for c in configs]
    keys = differing(flats) if len(flats) > 1 else []
    labels = distinct_labels(configs)
    lines = ["| # | configuration | " + " | ".join(code(k) for k in keys) + " |" if keys else "| # | configuration |",
             "|---|---|" + "---|" * len(keys)]
    for i, (label, f) in enumerate(zip(labels, flats)):
        lines.append(f"| {i + 1} | {esc(label)} | " + " | ".join(esc(value(f.get(k))) for k in keys) + " |"
                     if keys else f"| {i + 1} | {esc(label)} |")
    common = {k: v for k, v in flats[0].items() if k not in keys and v is not None}
    if common:
        lines += ["", "Common to " + ("all: " if len(flats) > 1 else "it: ") +
                  ", ".join(f"{code(k)} = {code(value(v))}" for k, v in common.items()) + "."]
    return lines


def hypothesis_table(claim: Claim, configs: Sequence[Any]) -> list[str]:
    rows: dict[str, list[tuple[int, bool, str]]] = {}
    for i, c in enumerate(configs):
        for h in claim.hypotheses(c):
            rows.setdefault(h.name, []).append((i, h.met, h.why))
    if not rows:
        return ["None stated: the claim holds for every configuration it accepts."]
    lines = ["| hypothesis | met by | not met by (why) |", "|---|---|---|"]
    for name, got in rows.items():
        met = [i for i, ok, _ in got if ok]
        unmet = "; ".join(f"#{i + 1}: {esc(why)}" for i, ok, why in got if not ok) or "—"
        lines.append(f"| {esc(name)} | {indices(met, len(configs)) if met else 'none'} | {unmet} |")
    return lines


def comparison_table(claim: Claim, configs: Sequence[Any], negative: bool) -> list[str]:
    """One row per distinct comparison (label, quantity, rule, tolerance, mode, cells), with the configurations
    that declare it."""
    rows: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        for comp in (claim.negative_controls if negative else claim.comparisons)(c):
            row = (esc(comp.label), code(comp.quantity), esc(bound(comp)), number(comp.tolerance), comp.mode,
                   esc(cells(comp, comp.prediction.size)))
            rows.setdefault(row, []).append(i)
    if not rows:
        return ["None declared."]
    lines = ["| label | quantity | prediction | δ | mode | cells | configurations |", "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + f" | {indices(members, len(configs))} |" for row, members in rows.items()]
    return lines


def claim_section(claim: Claim) -> str:
    """The generated part of claim ``claim``'s page (Markdown, from :data:`GENERATED_HEADING` on)."""
    lines = [GENERATED_HEADING, "",
             "*Generated from the registry (`theorems.REGISTRY`) when the documentation is built: this is what "
             f"`randnet-check run {claim.key}` runs.*", "",
             f"- **Title:** {esc(claim.title)}", f"- **Statement (as registered):** {esc(claim.statement)}",
             f"- **Kind:** {kind(claim)}",
             "- **Realizations per configuration:** " + ", ".join(f"{m} {claim.realizations[m]}" for m in RUN_MODES),
             f"- **Module:** `{claim.configs.__module__}`"]
    if claim.reported:
        lines.append("- **Also reported:** " + ", ".join(code(q) for q in claim.reported))
    if claim.plots:
        lines.append("- **Plots:** " + ", ".join(code(p) for p in claim.plots))
    lines.append("")
    for mode in RUN_MODES:
        configs = list(claim.configs(mode))
        lines += [f"### {mode.capitalize()} mode: {len(configs)} configuration{'s' if len(configs) != 1 else ''}", ""]
        lines += config_table(configs) + ["", "**Hypotheses**", ""] + hypothesis_table(claim, configs)
        lines += ["", "**Comparisons** (what the measurement must satisfy)", ""]
        lines += comparison_table(claim, configs, negative=False)
        lines += ["", "**Negative controls** (deliberately false; each must be rejected, i.e. FAIL)", ""]
        lines += comparison_table(claim, configs, negative=True) + [""]
    return "\n".join(lines)


def out_of_scope_section(entry: OutOfScope) -> str:
    """The generated part of the page of a statement listed as not checked (:class:`theorems.base.OutOfScope`)."""
    return "\n".join([
        GENERATED_HEADING, "",
        "*Generated from the list of statements not checked (`theorems.OUT_OF_SCOPE`) when the documentation is "
        "built.*", "",
        f"- **Title:** {esc(entry.title)}", "- **Kind:** out of scope — not a checked claim: no configuration, "
        "comparison or negative control; `randnet-check run` does not know it, `randnet-check list` and the "
        "report of `randnet-check suite` name it as out of scope",
        f"- **Why:** {esc(entry.reason)}", ""])


def generated_section(key: str) -> str:
    """The generated part of the page of ``key``: a registered claim's, or an out-of-scope entry's."""
    return claim_section(REGISTRY[key]) if key in REGISTRY else out_of_scope_section(OUT_OF_SCOPE[key])


def claim_page(key: str) -> str:
    """The whole page of ``key`` (:func:`listed`): its prose (or a placeholder saying it is missing) and the
    generated part."""
    title = REGISTRY[key].title if key in REGISTRY else OUT_OF_SCOPE[key].title
    path = prose_path(key)
    prose = path.read_text(encoding="utf-8") if path.exists() else (
        f"# {key} — {title}\n\n!!! warning \"No prose yet\"\n    This claim has no hand-written page: "
        f"write `docs/claims/{key}.md`.\n")
    return prose.rstrip() + "\n\n" + generated_section(key)


def claims_table() -> str:
    """The list of registered claims (and out-of-scope entries) by paper: key (linked), title, kind, realizations."""
    lines = []
    for title, keys in claims_by_paper():
        lines += [f"### {title}", "", "| claim | title | kind | realizations (quick / full) |", "|---|---|---|---|"]
        for k in keys:
            if k in OUT_OF_SCOPE:
                lines.append(f"| [{k}]({k}.md) | {esc(OUT_OF_SCOPE[k].title)} | out of scope (not checked) | — |")
                continue
            c = REGISTRY[k]
            lines.append(f"| [{k}]({k}.md) | {esc(c.title)} | {kind(c).split(' (')[0]} | "
                         f"{c.realizations['quick']} / {c.realizations['full']} |")
        lines.append("")
    return "\n".join(lines)


# -- the command line ---------------------------------------------------------------------------------------
def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    lines = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if a.help is not argparse.SUPPRESS
                   and not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        if not actions:
            continue
        lines += [f"**{group.title.capitalize()}**", "", "| argument | value | default | meaning |", "|---|---|---|---|"]
        for a in actions:
            names = ", ".join(code(s) for s in a.option_strings) or code(a.metavar or a.dest)
            if a.nargs == 0:
                kind_ = "flag"
            elif a.choices:
                kind_ = " \\| ".join(code(c) for c in a.choices)
            else:
                kind_ = code(a.metavar or a.dest.upper())
            default = "—" if a.default in (None, False, argparse.SUPPRESS) or not a.option_strings else code(a.default)
            lines.append(f"| {names} | {kind_} | {default} | {esc(formatter._expand_help(a))} |")
        lines.append("")
    return lines


def exit_status_rows() -> list[str]:
    """The exit statuses of ``run``, ``suite`` and ``sweep`` (:data:`validation.runner.EXIT_CODES`) as a table."""
    from validation.runner import EXIT_CODES

    return (["## Exit status", "", "Of `run`, `suite` and `sweep` (also at the end of their `--help`); `--report-only`: "
             "0 whatever the verdicts (3 still when a claim could not run). What each guarantees: [exit statuses, "
             "bad input, the results store and reproducibility](../guides/guarantees.md).", "",
             "| status | meaning |", "| --- | --- |"]
            + [f"| {code} | {esc(meaning)} |" for code, meaning in EXIT_CODES] + [""])


def cli_reference() -> str:
    """Every subcommand of ``randnet-check``: its description, usage and arguments, from the argparse parser, and the
    exit statuses."""
    from validation.cli import build_parser
    from validation.runner import exit_codes_text

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps the usage to the terminal's width: the same on every machine
    try:
        parser = build_parser()
        lines = ["```text", parser.format_usage().strip(), "```", "", esc(parser.description), ""]
        for name, sub in _subcommands(parser).items():
            lines += [f"## `randnet-check {name}`", "", esc(sub.description or ""), "", "```text",
                      sub.format_usage().strip(), "```", ""] + _option_rows(sub)
            if sub.epilog == exit_codes_text():
                lines += ["Exit status: see [below](#exit-status).", ""]
        lines += exit_status_rows()
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(lines)


# -- API reference ------------------------------------------------------------------------------------------
def public_modules(package: str) -> list[str]:
    """The package's public modules (no leading underscore), in name order, after the package; a module: itself."""
    mod = importlib.import_module(package)
    if not hasattr(mod, "__path__"):
        return [package]
    return [package] + [f"{package}.{m.name}" for m in sorted(pkgutil.iter_modules(mod.__path__), key=lambda m: m.name)
                        if not m.name.startswith("_")]


def api_page(name: str) -> str:
    """The API reference page ``name`` of :data:`PACKAGES`: one mkdocstrings block per public module (a package's
    own block shows its docstring only: its members are documented in their modules)."""
    lines = [f"# API: `{name}`", "",
             "*Generated from the docstrings when the documentation is built: one section per public module.*", ""]
    for root in PACKAGES[name]:
        for module in public_modules(root):
            is_package = hasattr(importlib.import_module(module), "__path__")
            lines += [f"::: {module}"] + (["    options:", "      members: false"] if is_package else []) + [""]
    return "\n".join(lines)
