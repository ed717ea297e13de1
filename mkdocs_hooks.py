"""MkDocs hook (mkdocs.yml `hooks:`): docs/cli.md's `<!-- cli-reference -->` marker becomes the reference rendered
from `mixdesign`'s own argparse parsers (designer/cli/reference.py) each time the site is built, so the reference
cannot drift from the code."""

from __future__ import annotations

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, **_kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    from designer.cli.reference import reference_markdown

    return markdown.replace(MARKER, reference_markdown())
