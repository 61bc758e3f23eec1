"""The mutation score of `make mutation`, per module, from `mutmut results --all true`.

Only the mutants `make mutation` runs count (the Makefile's MUTANTS patterns: of
kura_dbt/report/data.py the privacy functions). Mutants judged equivalent (no test can tell
them from the code: same behaviour for every input the program can give) are listed below,
each with its reason; they count as neither killed nor survived. A timeout is a mutant that
made its tests loop (a detection, shown apart).

    python scripts/mutation_score.py              # the table, in Markdown
    python scripts/mutation_score.py --survivors  # the survivors' names, one a line
    python scripts/mutation_score.py --sample 60  # the table of a seeded uniform sample of 60
        # mutants per module (whole modules where they are fewer); --to-run: the names of the
        # sample not yet killed, for `make mutation MUTANTS="..."`

A sample's score comes with its 95 % Wilson interval.
"""

from __future__ import annotations

import fnmatch
import math
import random
import subprocess
import sys
from collections import Counter

PRIVACY_FUNCTIONS = (
    "meets_thresholds visibility chain bucket_id add_buckets shown_ids fold_clusters "
    "place_conversations count_facets samples alerts_payload"
).split()
PATTERNS = [
    "kura_dbt.clustering.*",
    "kura_dbt.taxonomy.*",
    "kura_dbt.budget.*",
    "kura_dbt.failures.*",
    *(f"kura_dbt.report.data.x__{f}__mutmut_*" for f in PRIVACY_FUNCTIONS),
]

B = "kura_dbt.budget.xǁStageMonitorǁ"
D = "kura_dbt.taxonomy.discover.xǁ_Identifyǁ"
P = "kura_dbt.taxonomy.discover.xǁPreviousǁ"
EQUIVALENT = {
    f"{B}admit__mutmut_11": "refused = 1 instead of += 1: the first refusal caps the stage, "
    "so this branch only runs with refused == 0",
    f"{B}admit__mutmut_27": "the same in the cost branch",
    f"{B}admit__mutmut_15": "the estimate returned with a refusal: its one caller "
    "(llm.call_with_retries) never reads it",
    f"{B}finished__mutmut_11": "getattr default None instead of 0, under `or 0`",
    f"{B}finished__mutmut_25": "the same for prompt_tokens",
    f"{B}finished__mutmut_39": "the same for completion_tokens",
    f"{B}finished__mutmut_68": "advance(errors=...) without n: n defaults to 1",
    "kura_dbt.budget.x_skipped_result__mutmut_4": "attempts=0 dropped: CallResult's default is 0",
    "kura_dbt.clustering.lineage.x_new_cluster_id__mutmut_5": "another separator between "
    "member ids: still a deterministic, order-free hash (ids are opaque)",
    "kura_dbt.clustering.lineage.x_new_cluster_id__mutmut_8": "'UTF-8' for 'utf-8'",
    "kura_dbt.clustering.lineage.x_new_cluster_id__mutmut_15": "range to len + 2: the "
    "slice of width 33 is the whole 32-digit digest again",
    "kura_dbt.taxonomy.policy.x_clustering_settings_key__mutmut_16": "json default=None: "
    "every re-discover setting is a JSON value (str, int, float, None)",
    "kura_dbt.taxonomy.policy.x_clustering_settings_key__mutmut_18": "the same, default dropped",
    **{
        f"kura_dbt.clustering.{name}__mutmut_{n}": "zip(strict=...) over two arrays of one "
        "length (the Hungarian rows and columns, two masks of one array)"
        for name, ns in (
            ("lineage.x__one_to_one", (8, 11, 12)),
            ("lineage.x__shared_members", (18, 22)),
        )
        for n in ns
    },
    **{
        f"{P}ancestors_at__mutmut_{n}": "zip(strict=...) over two columns of one frame"
        for n in (6, 9, 14, 19, 22, 27)
    },
    **{
        f"kura_dbt.clustering.{name}__mutmut_{n}": "a dtype dropped or None where numpy's "
        "default is the same (int64 for ints, float64 for floats and astype(None))"
        for name, ns in (
            ("assign.x__radii", (30,)),
            ("assign.x_assign_to_centroids", (11, 14, 40)),
            ("assign.x_leave_one_out_distances", (2,)),
            ("lineage.x__shared_members", (7, 9)),
            ("lineage.x_match_clusters", (7, 15)),
        )
        for n in ns
    },
    "kura_dbt.clustering.assign.x_assign_to_centroids__mutmut_34": "no upper clip: a cosine "
    "distance is at most 2",
    "kura_dbt.clustering.assign.x_leave_one_out_distances__mutmut_52": "the same",
    "kura_dbt.clustering.assign.x_leave_one_out_distances__mutmut_48": "2.0 for a zero norm: "
    "the numerator is 0 there too",
    "kura_dbt.clustering.assign.x_unit_rows__mutmut_24": "a zero row divided by 2.0 for 1.0: "
    "still zero",
    **{
        f"kura_dbt.clustering.assign.x_calibration_scale__mutmut_{n}": "the default of the "
        "label index: it is only read at labels present in the fold"
        for n in (48, 52)
    },
    "kura_dbt.clustering.lineage.x__add_lineage__mutmut_26": "break for continue: the else "
    "branch is reached only by an old cluster with one significant target",
    **{
        f"kura_dbt.clustering.lineage.x__overlaps__mutmut_{n}": "a value where a size or the "
        "union is 0: there shared is 0 too, and nothing with shared 0 is matched or significant"
        for n in (25, 33, 41, 49)
    },
    "kura_dbt.clustering.lineage.x__overlaps__mutmut_60": "shared >= 0: with shared 0 both "
    "shares are 0, below any positive min_share",
    "kura_dbt.clustering.assign.x__radii__mutmut_33": "float64 dropped: the floor is a float",
    "kura_dbt.clustering.assign.x_assign_to_centroids__mutmut_43": "clipped at 3.0 for 2.0: a "
    "cosine distance is at most 2",
    "kura_dbt.clustering.assign.x_leave_one_out_distances__mutmut_59": "the same",
    "kura_dbt.clustering.assign.x_leave_one_out_distances__mutmut_39": "einsum subscripts in "
    "upper case: the same contraction",
    "kura_dbt.clustering.assign.x_calibration_scale__mutmut_51": "the default of the label "
    "index: it is only read at labels present in the fold",
    "kura_dbt.clustering.lineage.x_match_clusters__mutmut_5": "an array of str for object: "
    "numpy's str is a str, with the same hash",
    "kura_dbt.clustering.lineage.x_match_clusters__mutmut_13": "int64 dropped: labels are ints",
    "kura_dbt.clustering.lineage.x__overlaps__mutmut_17": "union >= 0 for > 0: a union of 0 "
    "has shared 0, so both give Jaccard 0",
    "kura_dbt.clustering.lineage.x__overlaps__mutmut_57": "share of an empty new cluster 1.0: "
    "it shares nothing, and significance needs shared > 0",
    "kura_dbt.clustering.lineage.x__shared_members__mutmut_21": "zip without strict=True over "
    "two masks of one array: always the same length",
    "kura_dbt.report.data.x__alerts_payload__mutmut_18": "visible.get(cluster, None) for "
    "False: both falsy",
    "kura_dbt.report.data.x__alerts_payload__mutmut_20": "the same, default dropped",
    "kura_dbt.report.data.x__samples__mutmut_18": "a base cluster of unknown size sorted as 1 "
    "for 0: the marts give every cluster with conversations a size",
    "kura_dbt.report.data.x__samples__mutmut_37": "an unknown distance sorted as 1.0 for 0.0: "
    "the key's first element already puts unknown distances last",
    "kura_dbt.report.data.x__samples__mutmut_44": "len(samples) <= limit: the inner loop "
    "stops at the limit, so the extra pass adds nothing",
    "kura_dbt.report.data.x__samples__mutmut_46": "depth <= len(q): the inner loop checks "
    "depth < len(q), so the extra pass adds nothing",
    **{
        f"kura_dbt.taxonomy.discover.x__centroids__mutmut_{n}": "zip(strict=...) over two "
        "columns of one frame: always the same length"
        for n in (15, 18, 23)
    },
    **{
        f"kura_dbt.taxonomy.discover.x__centroids__mutmut_{n}": "an array of str for object: "
        "numpy's str is a str, with the same hash"
        for n in (3, 5)
    },
    **{
        f"kura_dbt.taxonomy.discover.x_discover__mutmut_{n}": "the message of an assertion "
        "no input reaches (build_hierarchy keeps the base clusters)"
        for n in (99, 100, 101)
    },
    "kura_dbt.taxonomy.discover.x_discover__mutmut_104": "levels as float: 1.0 == 1 in the "
    "set difference and in the lineage row",
    "kura_dbt.taxonomy.discover.x_discover__mutmut_15": "init_centers set to None when there "
    "is no previous taxonomy: None is its default",
    **{
        f"kura_dbt.taxonomy.discover.x_discover__mutmut_{n}": "a dtype dropped where the "
        "clusterer's array already has it (int labels, float centres and radii)"
        for n in (24, 26, 29, 31, 128, 130)
    },
    **{
        f"{P}member_means__mutmut_{n}": "a dtype dropped: str ids compare alike, float means "
        "start k-means alike"
        for n in (4, 6, 23, 25)
    },
    f"{P}member_means__mutmut_9": "'XXXX' for a conversation without a cluster: no current "
    "cluster has that id",
    f"{D}__call____mutmut_4": "point labels as float: match_clusters casts them to int64",
    f"{D}__call____mutmut_7": "the same (dtype dropped)",
    f"{D}__call____mutmut_9": "-2 for 'in no cluster': match_clusters reads every label < 0 so",
    f"{D}_kept_name__mutmut_3": "`or True` on old_rows: a kept id implies previous clusters",
    f"{D}_kept_name__mutmut_41": "a non-text label key returned as is: it is None or NaN, "
    "both null in the hierarchy frame",
    f"{D}retire_levels_not_built__mutmut_4": "levels as float: 1.0 == 1 in every comparison "
    "and in the lineage row",
}


def results() -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status = {}
    for line in out.splitlines():
        name, _, state = line.strip().rpartition(": ")
        if any(fnmatch.fnmatch(name, p) for p in PATTERNS):
            status[name] = state
    return status


def module(name: str) -> str:
    return name.split(".x_")[0].split(".xǁ")[0]


def sample(status: dict[str, str], size: int, seed: int = 24) -> dict[str, str]:
    """A seeded uniform sample of ``size`` mutants of each module (all of a smaller one)."""
    by_module: dict[str, list[str]] = {}
    for name in sorted(status):
        by_module.setdefault(module(name), []).append(name)
    rng = random.Random(seed)
    chosen = {}
    for names in by_module.values():
        for name in names if len(names) <= size else rng.sample(names, size):
            chosen[name] = status[name]
    return chosen


def table(status: dict[str, str], interval: bool = False) -> str:
    rows: dict[str, Counter] = {}
    for name, state in status.items():
        counts = rows.setdefault(module(name), Counter())
        counts["mutants"] += 1
        counts["equivalent" if name in EQUIVALENT else state] += 1
    lines = [
        "| module | mutants | equivalent | killed | timed out | survived | not checked | score |"
        + (" 95 % interval |" if interval else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if interval else ""),
    ]
    total: Counter = Counter()
    for mod in sorted(rows):
        total.update(rows[mod])
        lines.append(_row(mod, rows[mod], interval))
    lines.append(_row("all", total, interval))
    return "\n".join(lines)


def _row(label: str, c: Counter, interval: bool) -> str:
    detected = c["killed"] + c["timeout"]
    judged = detected + c["survived"]
    score = f"{100 * detected / judged:.1f} %" if judged else ""
    low, high = wilson(detected, judged)
    bounds = f" {100 * low:.1f}-{100 * high:.1f} % |" if interval and judged else ""
    return (
        f"| `{label}` | {c['mutants']:,} | {c['equivalent']} | {c['killed']:,} | "
        f"{c['timeout']} | {c['survived']} | {c['not checked']} | {score} |{bounds}"
    )


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion k / n."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


if __name__ == "__main__":
    status = results()
    if "--sample" in sys.argv:
        status = sample(status, int(sys.argv[sys.argv.index("--sample") + 1]))
    if "--to-run" in sys.argv:
        print("\n".join(n for n, s in sorted(status.items()) if s != "killed"))
    elif "--survivors" in sys.argv:
        print(
            "\n".join(
                n for n, s in sorted(status.items()) if s == "survived" and n not in EQUIVALENT
            )
        )
    else:
        print(table(status, interval="--sample" in sys.argv))
