"""A Griffe extension for the API reference: Sphinx roles in docstrings (``:func:`validation.engine.run_claim```)
become cross-references where the target is documented, and plain code otherwise."""
from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _reference(match: re.Match) -> str:
    short, target = match.group(1), match.group(2).strip()
    title = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref optional identifier="{target}"><code>{title}</code></autoref>'


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring before it is rendered."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(_reference, obj.docstring.value)
