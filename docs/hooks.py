"""MkDocs hooks: the generated pages of the site (``docs/gen_pages.py``), built from the code on every build.

- ``on_config``: the claim pages in the navigation (by paper, from ``theorems.REGISTRY`` and the statements listed
  as out of scope, ``theorems.OUT_OF_SCOPE``); MathJax from a local
  copy instead of the CDN when ``RANDNET_DOCS_MATHJAX`` names one (an offline build, e.g. for a headless
  browser without network: ``npm install mathjax@3`` then ``RANDNET_DOCS_MATHJAX=node_modules/mathjax/es5``);
- ``on_files``: a page per registered claim and out-of-scope entry (its hand-written ``docs/claims/KEY.md``, or a
  placeholder and a **warning** — an error under ``mkdocs build --strict`` — when there is none), the CLI reference
  and the API pages; hand-written claim pages of claims not registered (yet) are left out of the site;
- ``on_page_markdown``: each claim page gets its generated section (an out-of-scope entry: why it is not
  checked); the claims index its table.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
from pathlib import Path

from mkdocs.structure.files import File

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # document the checkout the site is built from

_spec = importlib.util.spec_from_file_location("randnet_docs_gen_pages", HERE / "gen_pages.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

log = logging.getLogger("mkdocs.hooks.randnet")   # under "mkdocs": warnings count in --strict builds
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
MATHJAX_LOCAL = "assets/mathjax/tex-mml-chtml.js"
MATHJAX_ENV = "RANDNET_DOCS_MATHJAX"
CLAIMS_SECTION = "Claims"
CLAIMS_TABLE = "<!-- generated: claims table -->"
CLI_PAGE = "reference/cli.md"
CLI_INTRO = """# Command line: `randnet-check`

*Generated from the argument parser (`validation.cli.build_parser`) when the documentation is built. Every
command also prints this with `--help`.*

Exit status: 0 when the command ran (whatever the verdicts), 1 for a bad argument or input (one line on stderr),
2 for a malformed command line, 3 when `suite` ran but some claim raised an error (recorded in the report).

"""


def on_config(config):
    for item in config["nav"]:
        if isinstance(item, dict) and CLAIMS_SECTION in item:
            item[CLAIMS_SECTION] = [p for p in item[CLAIMS_SECTION] if not isinstance(p, dict)] + [
                {title: [{key: f"claims/{key}.md"} for key in keys]} for title, keys in gen.claims_by_paper()]
            break
    else:
        log.warning(f"hooks: no '{CLAIMS_SECTION}' section in the nav of mkdocs.yml: the claim pages are not listed")
    if os.environ.get(MATHJAX_ENV):
        scripts = config["extra_javascript"]
        for i, script in enumerate(scripts):
            if str(getattr(script, "path", script)) == MATHJAX_CDN:
                scripts[i] = MATHJAX_LOCAL
    return config


def on_files(files, config):
    registered = set(gen.listed())
    unregistered = []
    for f in list(files):
        stem = Path(f.src_uri).stem
        if f.src_uri.startswith("claims/") and f.src_uri.endswith(".md") and stem != "index" and stem not in registered:
            files.remove(f)
            unregistered.append(stem)
    if unregistered:
        log.info("claim pages written ahead of their claims (not in the site): "
                 + ", ".join(sorted(unregistered, key=gen.natural_key)))
    missing = gen.missing_prose()
    if missing:
        log.warning("claims without a hand-written page (write docs/claims/KEY.md for each): " + ", ".join(missing))
    for key in missing:
        files.append(File.generated(config, f"claims/{key}.md", content=gen.claim_page(key)))
    files.append(File.generated(config, CLI_PAGE, content=CLI_INTRO + gen.cli_reference()))
    for name in gen.PACKAGES:
        files.append(File.generated(config, f"api/{name}.md", content=gen.api_page(name)))
    return files


def on_page_markdown(markdown, page, config, files):
    src = page.file.src_uri
    key = Path(src).stem
    if src.startswith("claims/") and key in gen.listed() and not page.file.generated_by:
        return markdown.rstrip() + "\n\n" + gen.generated_section(key)
    if src == "claims/index.md":
        if CLAIMS_TABLE not in markdown:
            log.warning(f"claims/index.md lacks the marker {CLAIMS_TABLE}: no claim table")
        return markdown.replace(CLAIMS_TABLE, gen.claims_table())
    return markdown


def on_post_build(config):
    local = os.environ.get(MATHJAX_ENV)
    if local:
        if not (Path(local) / "tex-mml-chtml.js").exists():
            log.warning(f"{MATHJAX_ENV}={local} holds no tex-mml-chtml.js (npm install mathjax@3; use its es5 folder)")
            return
        shutil.copytree(local, Path(config["site_dir"]) / Path(MATHJAX_LOCAL).parent, dirs_exist_ok=True)
