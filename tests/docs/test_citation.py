"""CITATION.cff: the Citation File Format 1.2.0 fields that matter, and the BibTeX of the README kept in step.

(Validated with ``cffconvert --validate`` (cffconvert 2.0.0, schema 1.2.0) when it was written; cffconvert is not a
dependency, so this test checks the structure with PyYAML.)"""
import datetime
import re
from pathlib import Path

import yaml

import randnet

ROOT = Path(__file__).resolve().parents[2]
CFF = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
REFERENCE_TYPES = {"article", "conference-paper", "unpublished", "software", "book", "report", "thesis"}


def _authors_ok(authors) -> bool:
    return bool(authors) and all(("family-names" in a and "given-names" in a) or "name" in a for a in authors)


def test_required_fields_and_types():
    assert CFF["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "type", "version", "date-released", "license"):
        assert CFF.get(key), f"CITATION.cff lacks {key}"
    assert CFF["type"] == "software" and _authors_ok(CFF["authors"])
    assert isinstance(CFF["date-released"], datetime.date) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", CFF["date-released"])
    assert str(CFF["version"]) == randnet.__version__, "CITATION.cff's version must follow the package's"


def test_the_three_papers_are_referenced():
    refs = CFF["references"]
    assert len(refs) == 3
    for r in refs:
        assert r["type"] in REFERENCE_TYPES and r["title"] and _authors_ok(r["authors"]) and int(r["year"]) >= 2020
    titles = " ".join(r["title"] for r in refs)
    for words in ("Proxy-Normalizing Activations", "Is Batch Norm unique?", "Extreme Normalization"):
        assert words in titles


def test_readme_bibtex_follows_the_citation_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    software = readme[readme.index("@software{randnet"):]
    assert f"version = {{{CFF['version']}}}" in software and f"title   = {{{CFF['title']}}}" in software
    for key in ("@inproceedings{labatie2021proxynorm", "@article{rao2020batchnorm", "@unpublished{ioffe2021extreme"):
        assert key in readme
    assert readme.count("@software{randnet") == 1
