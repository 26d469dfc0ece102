"""A run's verdicts against a baseline: the ``results.json`` of an earlier run (``randnet-check suite --baseline``).

A checked claim's honest verdict may be FAIL (a finding: e.g. EN11's "shrinkage reduces the estimation error"),
so a continuous-integration job cannot fail on FAIL itself; it fails when something *changed*.
:func:`differences` compares two ``results.json`` documents (:class:`validation.report.Report`), one line per
difference:

- a claim whose verdict differs from the baseline's (PASS, FAIL, INCONCLUSIVE, HYPOTHESIS NOT MET, ERROR, OUT OF
  SCOPE; FAIL equal to FAIL is no difference);
- a negative control whose rejection differs — matched by the configuration's label, the control's quantity and
  label (and its rank among controls with the same three) — or that only one of the two runs has;
- a claim of this run missing from the baseline; and, unless the run named its claims (``--only``), a claim of the
  baseline that this run did not report (no longer registered).

The exit status is :data:`validation.runner.EXIT_BASELINE` when there is any difference
(:func:`validation.runner.exit_status`).
"""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Collection, Mapping


class BaselineError(ValueError):
    """A baseline file that cannot be read as the ``results.json`` of a run."""


def load_baseline(path: str | os.PathLike) -> dict:
    """The ``results.json`` document at ``path``; a :class:`BaselineError` (one line) when it is missing, not JSON
    or not a run's results (a ``claims`` list of entries with ``key`` and ``verdict``)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BaselineError(f"--baseline {path}: no such file (a results.json written by an earlier run)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BaselineError(f"--baseline {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"--baseline {path}: not JSON ({e})") from None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list) or not all(isinstance(c, dict) and "key" in c and "verdict" in c for c in claims):
        raise BaselineError(f"--baseline {path}: not the results.json of a run (no list of claims with key and "
                            "verdict)")
    return data


def _controls(claim: Mapping[str, Any]) -> dict[tuple, bool | None]:
    """``(config label, quantity, control label, rank) -> rejected`` of a claim entry of ``results.json``."""
    out, seen = {}, Counter()
    for config in claim.get("configs") or ():
        for control in config.get("negative_controls") or ():
            key = (config.get("label"), control.get("quantity"), control.get("label"))
            out[(*key, seen[key])] = control.get("rejected")
            seen[key] += 1
    return out


def _rejection(value: bool | None) -> str:
    return "rejected" if value else "NOT rejected"


def differences(current: Mapping[str, Any], baseline: Mapping[str, Any],
                only: Collection[str] | None = None) -> list[str]:
    """The differences of the run ``current`` from ``baseline`` (both ``results.json`` documents), one line each
    (module doc); ``only``: the claims the run was asked for (None: all, so a baseline claim the run lacks is a
    difference too)."""
    base = {c["key"]: c for c in baseline.get("claims", ())}
    lines = []
    ran = set()
    for claim in current.get("claims", ()):
        key, verdict = claim["key"], claim["verdict"]
        ran.add(key)
        old = base.get(key)
        if old is None:
            lines.append(f"{key}: not in the baseline (verdict {verdict})")
            continue
        if verdict != old["verdict"]:
            lines.append(f"{key}: verdict {verdict}, baseline {old['verdict']}")
        now, before = _controls(claim), _controls(old)
        for ident in [*now, *(i for i in before if i not in now)]:
            config, quantity, label, rank = ident
            where = f"{key} [{config}]: negative control {label!r} ({quantity}" + (f", #{rank + 1})" if rank else ")")
            if ident not in before:
                lines.append(f"{where}: {_rejection(now[ident])}, not in the baseline")
            elif ident not in now:
                lines.append(f"{where}: in the baseline ({_rejection(before[ident])}), not in this run")
            elif bool(now[ident]) != bool(before[ident]):
                lines.append(f"{where}: {_rejection(now[ident])}, baseline {_rejection(before[ident])}")
    missing = [k for k in base if k not in ran and (only is None or k in only)]
    lines += [f"{k}: in the baseline (verdict {base[k]['verdict']}), not reported by this run" for k in missing]
    return lines
