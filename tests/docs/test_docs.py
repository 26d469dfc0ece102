"""The documentation's generated parts (docs/gen_pages.py) and its hand-written claim pages, without MkDocs.

A claim registered without a page ``docs/claims/KEY.md`` fails here (and the docs build warns): whoever adds a
claim writes its page. ``mkdocs build --strict`` itself runs in CI (``.ci/run``).
"""
import argparse
import importlib.util
import re
from pathlib import Path

import pytest

from theorems import OUT_OF_SCOPE, REGISTRY
from theorems.base import RUN_MODES
from validation.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_pages_under_test", ROOT / "docs" / "gen_pages.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

CLAIMS = sorted((k for k, c in REGISTRY.items() if c.configs.__module__.startswith("theorems.")), key=gen.natural_key)
"""The project's claims (not the toy claims that tests/validation registers while its tests run)."""
LISTED = sorted([*CLAIMS, *OUT_OF_SCOPE], key=gen.natural_key)
"""The keys with a page in the site: the claims and the statements listed as out of scope (BU10)."""


def test_every_registered_claim_has_a_hand_written_page():
    missing = gen.missing_prose(LISTED)
    assert not missing, ("claims without a page: write " + ", ".join(f"docs/claims/{k}.md" for k in missing)
                         + " (statement, hypotheses, measurement, verdict rule, negative controls)")


PAGES = sorted((p.stem for p in gen.PROSE.glob("*.md") if p.stem != "index"), key=gen.natural_key)


@pytest.mark.parametrize("key", PAGES)
def test_claim_page_title_sections_and_links(key):
    """Every claim page (also those written ahead of their claim) has its title and sections, and links only to
    claim pages that are built (a link to an unregistered claim's page would break the strict build)."""
    text = gen.prose_path(key).read_text(encoding="utf-8")
    assert text.startswith(f"# {key} — "), f"docs/claims/{key}.md must start with '# {key} — title'"
    for section in ("## Statement", "## Hypotheses", "## Negative controls"):
        assert section in text, f"docs/claims/{key}.md has no '{section}' section"
    assert gen.GENERATED_HEADING not in text, "the generated section is added by the build, not written by hand"
    for target in re.findall(r"\]\(([A-Za-z0-9_-]+)\.md[)#]", text):  # links to sibling claim pages
        assert target == "index" or target in LISTED, \
            f"docs/claims/{key}.md links to {target}.md, which is not a registered claim (its page is not built)"


@pytest.mark.parametrize("key", CLAIMS)
def test_generated_section_lists_every_configuration_comparison_and_control(key):
    claim = REGISTRY[key]
    text = gen.claim_section(claim)
    for mode in RUN_MODES:
        configs = list(claim.configs(mode))
        assert f"### {mode.capitalize()} mode: {len(configs)} configuration" in text
        for c in configs:
            for comp in claim.comparisons(c) + claim.negative_controls(c):
                assert gen.esc(comp.label) in text and f"`{comp.quantity}`" in text
            for h in claim.hypotheses(c):
                assert gen.esc(h.name) in text
    assert gen.claim_page(key).startswith(f"# {key} — ")


def test_prediction_and_index_formatting():
    from theorems.base import Comparison
    c = Comparison("q", "<=", [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125], 0.01, "mean", "l")
    assert gen.prediction(c) == "1, 0.5, 0.25, …, 0.03125" and gen.bound(c).startswith("≤ 1")
    assert gen.prediction(Comparison("q", "==", [2.0, 2.0], 0.0, "exact", "l")) == "2"
    assert gen.bound(Comparison("q", ">=", 0.9, 0.0, "probability", "l")) == "P[q ≥ 0.9] ≥ 0.9"
    assert gen.indices([0, 1, 2, 4], 6) == "#1–3, #5" and gen.indices([0, 1], 2) == "all"
    assert [k for k in sorted(["P10", "P1-eps", "P2", "P1"], key=gen.natural_key)] == ["P1", "P1-eps", "P2", "P10"]
    assert gen.paper("BU3b") == gen.paper("RN-net") != gen.paper("T1") != gen.paper("EN12")


def test_claims_table_links_every_registered_claim_once():
    table = gen.claims_table()
    for key in LISTED:
        assert table.count(f"[{key}]({key}.md)") == 1


@pytest.mark.parametrize("key", sorted(OUT_OF_SCOPE))
def test_an_out_of_scope_entry_has_a_page_saying_why_it_is_not_checked(key):
    """BU10 is no claim (no configurations, nothing judged): its page is built, in its paper's section, and the
    generated part gives the registry's reason, not a claim section."""
    entry = OUT_OF_SCOPE[key]
    page = gen.claim_page(key)
    assert page.startswith(f"# {key} — ") and gen.esc(entry.reason) in page and "out of scope" in page
    assert "Quick mode" not in page and key not in REGISTRY
    assert key in dict(gen.claims_by_paper())[gen.paper(key)]
    assert f"| [{key}]({key}.md) | {gen.esc(entry.title)} | out of scope (not checked) | — |" in gen.claims_table()


def test_cli_reference_has_every_subcommand_and_option():
    text = gen.cli_reference()
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in subs.items():
        assert f"## `randnet-check {name}`" in text
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in text, f"{name} {option} missing from the CLI reference"


def test_cli_reference_lists_every_exit_status():
    from validation.runner import EXIT_CODES

    text = gen.cli_reference()
    assert "## Exit status" in text and "Exit status: see [below](#exit-status)." in text
    for code, meaning in EXIT_CODES:
        assert f"| {code} | {gen.esc(meaning)} |" in text
    assert "`--baseline`" in text and "| 6 | with --baseline FILE.json" in text


def test_api_pages_cover_the_public_modules():
    text = gen.api_page("validation")
    for module in ("validation.engine", "validation.testing", "validation.pytest_plugin", "validation.cli"):
        assert f"::: {module}\n" in text
    assert "::: validation.blas" in text and "_" not in {m.rsplit(".", 1)[-1][0] for m in gen.public_modules("randnet")}
    assert "::: theorems.base" in gen.api_page("theorems")
