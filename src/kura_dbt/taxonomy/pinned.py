"""A pinned taxonomy: the categories an analyst exported, edited and committed as a dbt seed.

The file (CSV, the seed; or YAML, the same rows as a list of mappings) has one row per category
or per discovered cluster mapped into one:

``category_id``
    the category's id (required). Exported rows carry the discovered cluster id
    (``L0-86db57ba``); a new category gets any id the analyst chooses. ``other`` is reserved:
    it is the explicit category of the conversations that fit none.
``name``, ``description``
    what dashboards show and what the LLM classifier reads.
``parent_id``
    another category's id (or empty): categories with children are groups, and conversations
    are only classified into the categories without children (the leaves).
``cluster_id``
    the discovered cluster(s) whose conversations are this category's labelled members (several
    ids may be separated by spaces, commas or ``|``); empty for a new category.
``example_1`` ... ``example_N``
    example texts (redacted summaries or requests in the export; the analyst's own for a new
    category).

Edits: rename (change ``name``), merge (give the second row the first row's ``category_id``
and leave its name, description and parent empty, or list both cluster ids on one row), drop
(delete the row), add (a new ``category_id`` with a description and a few examples).

:func:`parse_rows` validates the rows and says every problem at once, each with its row and
field; in a CSV file a row is numbered as a spreadsheet numbers it (the header is row 1, the
first category row 2). Names, ids and examples are plain text: a control character (C0 or C1,
such as a terminal escape sequence) is a problem. The taxonomy's version is a hash of its
content, so a changed file reclassifies and an unchanged one (whatever its row order) does not.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kura_dbt.display import has_control, plural, visible

OTHER = "other"
FIELDS = ("category_id", "name", "description", "parent_id", "cluster_id")
_EXAMPLE = re.compile(r"^example_(\d+)$")
_SPLIT = re.compile(r"[\s,|]+")
EXAMPLES_IN_EXPORT = 5


class TaxonomyError(ValueError):
    """The taxonomy file cannot be used; the message lists every problem with its row and
    field."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"kura: the pinned taxonomy {source} (var kura__pinned_taxonomy) has "
            f"{plural(len(self.problems), 'problem')}:\n{lines}"
        )


@dataclass(frozen=True)
class Category:
    category_id: str
    name: str
    description: str
    parent_id: str | None
    cluster_ids: tuple[str, ...]
    examples: tuple[str, ...]
    rows: tuple[int, ...]  # the file's data rows (1-based) that define it

    def as_json(self) -> dict[str, Any]:
        return {
            "category_id": self.category_id,
            "name": self.name,
            "description": self.description,
            "parent_id": self.parent_id,
            "cluster_ids": list(self.cluster_ids),
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class PinnedTaxonomy:
    categories: dict[str, Category]
    source: str = "taxonomy"
    children: dict[str, list[str]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """A hash of the content (row order does not count): the taxonomy version."""
        canonical = [self.categories[c].as_json() for c in sorted(self.categories)]
        for entry in canonical:
            entry["cluster_ids"] = sorted(entry["cluster_ids"])
        text = json.dumps(canonical, sort_keys=True, ensure_ascii=False)
        return hashlib.md5(text.encode("utf-8")).hexdigest()[:12]

    def leaves(self) -> list[str]:
        """The categories conversations are classified into (those without children)."""
        return [c for c in self.categories if not self.children.get(c)]

    def level(self, category_id: str) -> int:
        """0 for a leaf, else one more than its highest child."""
        kids = self.children.get(category_id) or []
        return 0 if not kids else 1 + max(self.level(k) for k in kids)

    def row_of(self, category_id: str) -> int:
        return self.categories[category_id].rows[0]

    def label_of_cluster(self, parent_of_cluster: Mapping[str, str | None]) -> dict[str, str]:
        """Discovered cluster id -> the leaf category its conversations are labelled with: the
        leaf that names the cluster itself or its nearest ancestor (``parent_of_cluster`` walks
        the discovered hierarchy). Clusters under no leaf's cluster_id are not labelled."""
        direct = {cid: c for c in self.leaves() for cid in self.categories[c].cluster_ids}
        out: dict[str, str] = {}
        for cluster in parent_of_cluster:
            node: str | None = cluster
            seen: set[str] = set()
            while node is not None and node not in seen:
                if node in direct:
                    out[cluster] = direct[node]
                    break
                seen.add(node)
                node = parent_of_cluster.get(node)
        return out


def _text(value: Any) -> str:
    """A cell as text: None, NaN and blanks are empty; 3.0 (a seed typed as a number) is 3."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def parse_rows(
    rows: Iterable[Mapping[str, Any]], source: str = "taxonomy", first_row: int = 1
) -> PinnedTaxonomy:
    """Validate the rows of a taxonomy file (keys are column names) into a
    :class:`PinnedTaxonomy`; raises :class:`TaxonomyError` listing every problem. Rows are
    numbered from ``first_row`` (2 in a CSV file: its header is row 1)."""
    cells = [{str(k).strip().lower(): v for k, v in row.items()} for row in rows]
    problems: list[str] = []
    example_columns = _example_columns(cells, source, problems)
    drafts = _drafts(cells, example_columns, problems, first_row)
    children = _check_drafts(drafts, problems)
    _check_cycles(drafts, problems)
    if not drafts and not problems:
        problems.append("no categories (the file has no rows with a category_id)")
    if problems:
        raise TaxonomyError(source, problems)
    categories = {
        cid: Category(
            category_id=cid,
            name=d["name"],
            description=d["description"],
            parent_id=d["parent_id"],
            cluster_ids=tuple(d["clusters"]),
            examples=tuple(d["examples"]),
            rows=tuple(d["rows"]),
        )
        for cid, d in drafts.items()
    }
    return PinnedTaxonomy(categories, source, children)


def _where(n: int, category_id: str, column: str) -> str:
    named = f" (category_id {category_id!r})" if category_id else ""
    return f"row {n}{named}, field {column}"


def _example_columns(rows: list[dict[str, Any]], source: str, problems: list[str]) -> list[str]:
    """The ``example_N`` columns in order; unknown columns are problems, and a file without
    ``category_id`` fails at once."""
    columns: list[str] = list(dict.fromkeys(k for row in rows for k in row))
    unknown = [c for c in columns if c not in FIELDS and not _EXAMPLE.match(c)]
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(unknown)}; valid: {', '.join(FIELDS)}, "
            "example_1, example_2, ..."
        )
    if rows and "category_id" not in columns:
        problems.append("missing column category_id (every row needs one)")
        raise TaxonomyError(source, problems)
    return sorted((c for c in columns if _EXAMPLE.match(c)), key=_example_number)


def _example_number(column: str) -> int:
    """The n of an `example_n` column."""
    match = _EXAMPLE.match(column)
    return int(match.group(1)) if match else 0


def _drafts(
    rows: list[dict[str, Any]], example_columns: list[str], problems: list[str], first_row: int
) -> dict[str, dict[str, Any]]:
    """One draft category per id (rows with the same id merged), in file order."""
    drafts: dict[str, dict[str, Any]] = {}
    cluster_row: dict[str, int] = {}
    for n, row in enumerate(rows, start=first_row):
        problems += _control_characters(row, lambda column, n=n: _where(n, "", column))
        cid = _text(row.get("category_id"))
        if not cid:
            if any(_text(v) for v in row.values()):
                problems.append(f"{_where(n, '', 'category_id')}: empty (every row needs an id)")
            continue
        if cid.lower() == OTHER:
            problems.append(
                f"{_where(n, cid, 'category_id')}: {OTHER!r} is reserved for the conversations "
                "that fit no category; choose another id"
            )
            continue
        clusters = _clusters_of(row, n, cid, cluster_row, problems)
        examples = [_text(row.get(c)) for c in example_columns]
        if cid not in drafts:
            drafts[cid] = {
                "name": _text(row.get("name")),
                "description": _text(row.get("description")),
                "parent_id": _text(row.get("parent_id")) or None,
                "clusters": list(clusters),
                "examples": [e for e in examples if e],
                "rows": [n],
            }
        else:
            _merge(drafts[cid], row, n, cid, clusters, examples, problems)
    return drafts


def _clusters_of(
    row: Mapping[str, Any], n: int, cid: str, cluster_row: dict[str, int], problems: list[str]
) -> list[str]:
    """The row's cluster ids; one already on another row is a problem."""
    clusters = [c for c in _SPLIT.split(_text(row.get("cluster_id"))) if c]
    for cluster in clusters:
        if cluster in cluster_row:
            problems.append(
                f"{_where(n, cid, 'cluster_id')}: duplicate id {cluster!r}, already on row "
                f"{cluster_row[cluster]} (a cluster maps to one category; to merge, give "
                "the rows the same category_id)"
            )
        else:
            cluster_row[cluster] = n
    return clusters


def _merge(
    draft: dict[str, Any],
    row: Mapping[str, Any],
    n: int,
    cid: str,
    clusters: list[str],
    examples: list[str],
    problems: list[str],
) -> None:
    """The same id again: a merge row, which may only add clusters and examples."""
    for column in ("name", "description", "parent_id"):
        value = _text(row.get(column)) or None
        if value is None or value == (draft[column] or None):
            continue
        if draft[column]:
            problems.append(
                f"{_where(n, cid, column)}: duplicate id {cid!r} (first on row "
                f"{draft['rows'][0]}) with a different {column} ({value!r} vs "
                f"{draft[column]!r}); a merged row leaves {column} empty or repeats it"
            )
        else:
            draft[column] = value
    draft["clusters"] += clusters
    draft["examples"] += [e for e in examples if e and e not in draft["examples"]]
    draft["rows"].append(n)


def _check_drafts(drafts: dict[str, dict[str, Any]], problems: list[str]) -> dict[str, list[str]]:
    """Each category's parent, name and description checked; the children of each parent."""
    children: dict[str, list[str]] = {}
    for cid, draft in drafts.items():
        first = draft["rows"][0]
        parent = draft["parent_id"]
        if parent is not None:
            if parent == cid:
                problems.append(
                    f"{_where(first, cid, 'parent_id')}: a category cannot be its own parent"
                )
            elif parent not in drafts:
                problems.append(
                    f"{_where(first, cid, 'parent_id')}: unknown parent {parent!r} (no row has "
                    "that category_id)"
                )
            else:
                children.setdefault(parent, []).append(cid)
        if not draft["name"]:
            problems.append(f"{_where(first, cid, 'name')}: empty (a category needs a name)")
        if not draft["description"] and not draft["examples"]:
            problems.append(
                f"{_where(first, cid, 'description')}: category {cid!r} has no description and "
                "no examples (give it at least one of them)"
            )
    return children


def _check_cycles(drafts: dict[str, dict[str, Any]], problems: list[str]) -> None:
    """Cycles through parent_id, each reported on the row of a category in it."""
    for cid in drafts:
        node: str | None = cid
        seen: list[str] = []
        while node is not None and node in drafts:
            if node in seen:
                if node == cid:
                    problems.append(
                        f"{_where(drafts[cid]['rows'][0], cid, 'parent_id')}: parents form a "
                        f"cycle ({' -> '.join([*seen, node])})"
                    )
                break
            seen.append(node)
            node = drafts[node]["parent_id"]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a taxonomy file: CSV (the seed) or YAML (a list of mappings, or a mapping
    with a ``categories`` list)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        import yaml

        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if isinstance(loaded, dict):
            loaded = loaded.get("categories", [])
        if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
            raise TaxonomyError(
                str(path), ["a YAML taxonomy is a list of mappings (or `categories:` with one)"]
            )
        out = []
        for row in loaded:
            row = dict(row)
            examples = row.pop("examples", None)
            if isinstance(examples, list):
                for i, example in enumerate(examples, start=1):
                    row[f"example_{i}"] = example
            if isinstance(row.get("cluster_id"), list):
                row["cluster_id"] = " ".join(map(str, row["cluster_id"]))
            out.append(row)
        return out
    if suffix != ".csv":
        raise TaxonomyError(str(path), [f"unknown file type {suffix!r}: use .csv or .yml"])
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_file(path: Path) -> PinnedTaxonomy:
    """Read and validate a taxonomy file."""
    import yaml

    path = Path(path)
    first_row = 2 if path.suffix.lower() == ".csv" else 1
    try:
        rows = read_rows(path)
    except UnicodeDecodeError as exc:
        raise TaxonomyError(str(path), [f"not UTF-8 text (byte offset {exc.start})"]) from None
    except (csv.Error, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise TaxonomyError(str(path), [f"not readable as {path.suffix[1:]}: {reason}"]) from None
    return parse_rows(rows, source=str(path), first_row=first_row)


def _control_characters(row: Mapping[str, Any], where: Any) -> list[str]:
    """A problem for each field of ``row`` with a control character (descriptions and examples
    may hold tabs and line breaks; names and ids nothing but text)."""
    problems = []
    for column, value in row.items():
        text = value if isinstance(value, str) else ""
        multiline = column == "description" or _EXAMPLE.match(column) is not None
        if has_control(text, multiline=multiline):
            shown = visible(text, multiline=multiline)
            problems.append(
                f"{where(column)}: a control character ({shown!r}); names, ids and examples "
                "are plain text, remove it"
            )
    return problems


def write_file(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write export rows (``FIELDS`` + ``examples`` lists) as CSV or YAML (by suffix)."""
    path = Path(path)
    width = max([len(r.get("examples") or []) for r in rows] + [EXAMPLES_IN_EXPORT])
    if path.suffix.lower() in (".yml", ".yaml"):
        import yaml

        entries = [
            {k: r.get(k) for k in FIELDS} | {"examples": list(r.get("examples") or [])}
            for r in rows
        ]
        path.write_text(
            yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )
        return
    header = [*FIELDS, *(f"example_{i}" for i in range(1, width + 1))]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for r in rows:
            examples = list(r.get("examples") or [])
            examples += [""] * (width - len(examples))
            writer.writerow([("" if r.get(k) is None else r.get(k)) for k in FIELDS] + examples)
