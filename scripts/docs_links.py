"""mkdocs hook: links to the repository files that the docs site includes as pages.

README.md, BENCHMARKS.md and CHANGELOG.md live at the repository root, where GitHub shows
them; the site includes each one into a page of its own (docs/index.md, docs/benchmarks.md,
docs/changelog.md). A link to one of those files, from a page or from an included file, points
at its page on the site, so the same Markdown link works in both places.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

# repository file -> the page of the site that includes it
INCLUDED = {
    "README.md": "index.md",
    "BENCHMARKS.md": "benchmarks.md",
    "CHANGELOG.md": "changelog.md",
}
LINK = re.compile(r"\]\((?P<target>[^)\s#]+\.md)(?P<anchor>#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page, config, files) -> str:
    docs = Path(config["docs_dir"]).resolve()
    repo = docs.parent
    page_dir = posixpath.dirname(page.file.src_uri)

    def relink(match: re.Match) -> str:
        target = (docs / page_dir / match.group("target")).resolve()
        if target.parent != repo or target.name not in INCLUDED:
            return match.group(0)
        url = posixpath.relpath(INCLUDED[target.name], page_dir or ".")
        return f"]({url}{match.group('anchor') or ''})"

    return LINK.sub(relink, markdown)
