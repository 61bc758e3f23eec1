"""How right is the local summariser's ``non_english`` flag? Its precision (of the texts
flagged, the share that are not English) and recall (of the texts not in English, the share
flagged) on a labelled multilingual set built from public data, with short texts on purpose:
a chat log's short turns are where detectors go wrong.

The set (``benchmarks/data/oasst_locales.jsonl``, Apache-2.0, from OpenAssistant's web app:
LAION-AI/Open-Assistant, ``website/public/locales/<language>/*.json`` at commit f1e6ed9)
holds the app's interface texts in 40 languages, labelled by their folder: every string with
at least one word, placeholders (``{{count}}``) and markup removed, up to 150 per language
(seeded sample); a string a translation left identical to the English one is dropped (it is
English, whatever its folder says). Next to it, the English side of the test: the English
folder's strings and the user turns of the OpenAssistant threads and prompts
(``../shared/data/oasst``, Apache-2.0).

    python benchmarks/language_flags.py [--data-dir ../shared/data]
    python benchmarks/language_flags.py --build-set GIT_DIR   # rebuild the set from a clone
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.cluster_quality import machine_line  # noqa: E402
from benchmarks.corpora import banking77, oasst, sgd  # noqa: E402

SET = REPO / "benchmarks" / "data" / "oasst_locales.jsonl"
SOURCE_COMMIT = "f1e6ed9526f5817531f3ab85441a40b3671ddccb"
PER_LANGUAGE = 150
_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}|<[^>]+>|\$t\([^)]*\)")
_LETTER = re.compile(r"[^\W\d_]")


def _leaves(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}.{i}")]
    return [(path, str(value))] if isinstance(value, str) else []


def _strings(git_dir: Path, language: str) -> dict[str, str]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, check=True
        ).stdout

    folder = f"website/public/locales/{language}/"
    out: dict[str, str] = {}
    for path in git("ls-tree", "--name-only", SOURCE_COMMIT, folder).split():
        if path.endswith(".json"):
            data = json.loads(git("show", f"{SOURCE_COMMIT}:{path}"))
            for key, text in _leaves(data):
                text = " ".join(_PLACEHOLDER.sub(" ", text).split())
                if _LETTER.search(text):
                    out[f"{Path(path).name}{key}"] = text
    return out


def build_set(git_dir: Path) -> None:
    listing = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "--name-only", SOURCE_COMMIT,
         "website/public/locales/"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    languages = sorted(Path(p).name for p in listing if "." not in Path(p).name)
    english = _strings(git_dir, "en")
    rows = []
    rng = np.random.default_rng(0)
    for language in languages:
        strings = _strings(git_dir, language)
        keys = sorted(k for k, t in strings.items() if language == "en" or t != english.get(k, ""))
        for k in sorted(rng.permutation(keys)[:PER_LANGUAGE]):
            rows.append({"language": language, "key": k, "text": strings[k]})
    SET.parent.mkdir(parents=True, exist_ok=True)
    with SET.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} strings in {len(languages)} languages to {SET}")


def evaluate(data_dir: Path) -> None:
    from kura_dbt.summaries.local import LocalSummariser

    rows = [json.loads(line) for line in SET.open(encoding="utf-8")]
    texts = [(r["text"], r["language"] != "en", f"locale {r['language']}") for r in rows]
    for source, load in (("oasst", oasst), ("banking77", banking77), ("sgd", sgd)):
        for turns in load(data_dir)[0]:
            user = [t for role, t in turns if role == "user"]
            texts.append((user[0], False, source))
    summariser = LocalSummariser()
    started = time.perf_counter()
    flagged = [
        "non_english" in (summariser.summarise([{"role": "user", "content": t}]).flags or [])
        for t, _, _ in texts
    ]
    seconds = time.perf_counter() - started
    truth = [foreign for _, foreign, _ in texts]
    tp = sum(f and t for f, t in zip(flagged, truth, strict=True))
    fp = [texts[i] for i, (f, t) in enumerate(zip(flagged, truth, strict=True)) if f and not t]
    missed = Counter(
        texts[i][2] for i, (f, t) in enumerate(zip(flagged, truth, strict=True)) if t and not f
    )
    n_foreign, n_english = sum(truth), len(truth) - sum(truth)
    short = [i for i, (t, _, _) in enumerate(texts) if len(t.split()) < 8]
    short_fp = sum(flagged[i] and not truth[i] for i in short)
    print(
        f"\n{len(texts):,} texts: {n_english:,} English, {n_foreign:,} in "
        f"{len({t[2] for t in texts if t[1]})} other languages "
        f"({len(short):,} of fewer than 8 words); {seconds:.1f} s"
    )
    print(
        f"non_english flags: {sum(flagged):,}; precision {tp / max(sum(flagged), 1):.1%}, "
        f"recall {tp / max(n_foreign, 1):.1%}; English flagged {len(fp)} of {n_english} "
        f"({short_fp} of them short)"
    )
    print(
        "English flagged by source: "
        + ", ".join(f"{k} {v}" for k, v in Counter(s for _, _, s in fp).items())
    )
    print("English texts flagged: " + " | ".join(repr(t[:60]) for t, _, _ in fp[:20]))
    print("most missed: " + ", ".join(f"{k} {v}" for k, v in missed.most_common(8)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--build-set", type=Path, help="a clone's git directory")
    args = parser.parse_args(argv)
    if args.build_set:
        build_set(args.build_set)
        return 0
    print(machine_line())
    evaluate(args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
