"""The examples in the docs, read from the pages: which blocks run on the demo, and the output
each one shows.

A fenced block runs on the demo when the line right above its opening fence is
`<!-- check: demo -->`; the output it shows, if any, is the next fenced block, marked
`<!-- check: output -->`. An SQL block, or a shell block that runs `kura`, that cannot run on
the demo says why: `<!-- check: skip REASON -->`. The markers are HTML comments, so neither
GitHub nor the docs site shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARK = re.compile(r"^<!-- check: (demo|output|skip)(?: (.*?))? -->$")
FENCE = re.compile(r"^\s*```(\w*)")
# a shell line that runs the kura CLI
KURA_COMMAND = re.compile(r"(^|[\s/])kura\s+[a-z]", re.M)
# a cluster id (L<level>-<8 hex digits>): a content hash that changes with the pipeline
CLUSTER_ID = re.compile(r"\bL\d+-[0-9a-f]{8}\b")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, body, the marker above it, and where its body lies."""

    page: Path
    lang: str
    body: str
    mark: str | None
    reason: str | None
    start: int  # index of the first body line in the page's lines
    end: int  # index of the closing fence


@dataclass(frozen=True)
class Example:
    """A block that runs on the demo, and the output block that follows it, if any."""

    code: Block
    output: Block | None

    @property
    def name(self) -> str:
        return f"{self.code.page.relative_to(REPO)}:{self.code.start}"


def pages() -> list[Path]:
    """The pages of the docs site: the README (the site's home page) and docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, with the check marker on the line above it."""
    lines = page.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if FENCE.match(lines[j])), None)
        if end is None:
            raise ValueError(f"{page}:{i + 1}: a fenced block that is never closed")
        mark = MARK.match(lines[i - 1].strip()) if i > 0 else None
        found.append(
            Block(
                page=page,
                lang=fence.group(1),
                body="\n".join(lines[i + 1 : end]),
                mark=mark.group(1) if mark else None,
                reason=mark.group(2) if mark else None,
                start=i + 1,
                end=end,
            )
        )
        i = end + 1
    return found


def examples(page: Path) -> list[Example]:
    """The blocks of a page marked to run on the demo, each with the output it shows."""
    found: list[Example] = []
    listed = blocks(page)
    for n, block in enumerate(listed):
        if block.mark == "output":
            before = listed[n - 1] if n else None
            if before is None or before.mark != "demo":
                raise ValueError(
                    f"{page}:{block.start}: an output block must follow a block marked "
                    "<!-- check: demo -->"
                )
            continue
        if block.mark != "demo":
            continue
        after = listed[n + 1] if n + 1 < len(listed) else None
        found.append(Example(block, after if after and after.mark == "output" else None))
    return found


def needs_mark(block: Block) -> bool:
    """SQL, and shell that runs `kura`, must say whether it runs on the demo."""
    return block.lang == "sql" or (block.lang == "bash" and bool(KURA_COMMAND.search(block.body)))


def cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def table(columns: list[str], rows: list[tuple]) -> str:
    """A query's result as the docs show it: a header, then one line per row; numbers are
    right-aligned, everything else left-aligned, columns two spaces apart."""
    texts = [[cell(v) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[c], int | float | Decimal) or row[c] is None for row in rows)
        for c in range(len(columns))
    ]
    widths = [max(len(t) for t in [name, *(r[c] for r in texts)]) for c, name in enumerate(columns)]

    def line(values: list[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(columns), *(line(t) for t in texts)])


def replace_output(example: Example, text: str) -> None:
    """Write `text` as the example's shown output (KURA_DOCS_UPDATE=1)."""
    assert example.output is not None
    lines = example.output.page.read_text(encoding="utf-8").split("\n")
    lines[example.output.start : example.output.end] = text.split("\n")
    example.output.page.write_text("\n".join(lines), encoding="utf-8")
