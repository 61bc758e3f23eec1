"""mkdocs hook: links from the docs to files of the repository, so that one Markdown link works
on GitHub and on the site.

- README.md, BENCHMARKS.md and CHANGELOG.md live at the repository root, where GitHub shows
  them; the site includes each one into a page of its own (docs/index.md, docs/benchmarks.md,
  docs/changelog.md). A link to one of them points at that page.
- Any other file or folder outside docs/ (a script, a seed's README, `integration_tests/`) has
  no page on the site: a link to one that exists becomes its text; a link to one that does not
  exist is left alone, so that `mkdocs build --strict` fails on it.
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
# [text](relative/target#anchor), not an image, not a URL with a scheme, not an absolute path
LINK = re.compile(
    r"(?<!!)\[(?P<text>[^\]\n]*)\]\((?P<target>(?![a-z][a-z0-9+.-]*:|/|#)[^)\s#]+)"
    r"(?P<anchor>#[^)\s]*)?\)"
)


def on_page_markdown(markdown: str, page, config, files) -> str:
    docs = Path(config["docs_dir"]).resolve()
    repo = docs.parent
    page_dir = posixpath.dirname(page.file.src_uri)

    def relink(match: re.Match) -> str:
        target = (docs / page_dir / match.group("target")).resolve()
        if target == docs or docs in target.parents or repo not in target.parents:
            return match.group(0)
        if target.parent == repo and target.name in INCLUDED:
            url = posixpath.relpath(INCLUDED[target.name], page_dir or ".")
            return f"[{match.group('text')}]({url}{match.group('anchor') or ''})"
        return match.group("text") if target.exists() else match.group(0)

    return LINK.sub(relink, markdown)
