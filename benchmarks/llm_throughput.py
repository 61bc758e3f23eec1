"""LLM summarisation throughput and LLM calls per conversation, against a local
OpenAI-compatible server that answers after a fixed latency (tests/python/fake_openai.py,
run in its own process so that it does not share the client's interpreter).

(a) throughput of OpenAISummariser at a given concurrency, compared with the bound
    concurrency / latency;
(b) LLM calls per conversation for the whole pipeline (summaries + cluster names + the
    hierarchy's names) on N conversations.

    python benchmarks/llm_throughput.py --conversations 1000 --concurrency 50 --latency 0.5
    python benchmarks/llm_throughput.py --pipeline 10000 --latency 0.02
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.corpora import corpus  # noqa: E402 - after sys.path.insert
from tests.python.fake_openai import serve  # noqa: E402
from tests.python.state_store import FakeDbt, embed, summarise  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats") as response:
        return json.loads(response.read())


def start_server(latency: float) -> tuple[multiprocessing.Process, int]:
    port = free_port()
    process = multiprocessing.Process(target=serve, args=(port, latency), daemon=True)
    process.start()
    for _ in range(100):
        try:
            stats(port)
            return process, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the local server did not start")


def settings(port: int, concurrency: int, http_client: str = "aiohttp"):
    from kura_dbt.llm import LLMSettings

    return LLMSettings(
        model="bench-model",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key_env="KURA_BENCH_KEY",
        max_concurrency=concurrency,
        timeout_s=30,
        http_client=http_client,
    )


def throughput(
    n: int,
    concurrency: int,
    latency: float,
    data_dir: Path,
    http_client: str,
    profile: bool = False,
) -> dict[str, float]:
    from kura_dbt.summaries import Message
    from kura_dbt.summaries.openai import OpenAISummariser

    pool = corpus(data_dir)[:n]
    items = [(str(i), [Message(r, t) for r, t in turns]) for i, turns in enumerate(pool)]
    process, port = start_server(latency)
    try:
        summariser = OpenAISummariser(settings(port, concurrency, http_client))
        summariser.summarise_many(items[:1])  # warm up: imports and the first connection
        warm = stats(port)["requests"]
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started, cpu = time.perf_counter(), time.process_time()
        records = summariser.summarise_many(items)
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        cpu = time.process_time() - cpu  # this process only: the server runs in its own
        seen = stats(port)
        seen["requests"] -= warm
    finally:
        process.terminate()
    errors = sum(r.error is not None for r in records)
    rate = n / seconds
    if latency <= 0:  # no bound: the client's (and server's) own cost per call
        print(
            f"| {n:,} | {concurrency} | {http_client} | 0 | - | {rate:.1f} | - | {seconds:.1f} "
            f"| {1000 * cpu / n:.1f} | {seen['max_in_flight']} | {errors} |"
        )
    else:
        bound = concurrency / latency
        print(
            f"| {n:,} | {concurrency} | {http_client} | {latency:.2f} | {bound:.0f} | {rate:.1f} "
            f"| {100 * rate / bound:.0f}% | {seconds:.1f} | {1000 * cpu / n:.1f} "
            f"| {seen['max_in_flight']} | {errors} |"
        )
    if profiler is not None:
        print_profile(profiler)
    share = rate / (concurrency / latency) if latency > 0 else float("nan")
    return {"rate": rate, "share": share, "seconds": seconds, "cpu_ms": 1000 * cpu / n}


def print_profile(profiler) -> None:
    """The client's own CPU time (cProfile's tottime) by top-level package."""
    import collections
    import pstats

    by_package: collections.Counter[str] = collections.Counter()
    for (filename, _, function), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():
        if filename == "~":
            package = "builtins"
        elif "site-packages/" in filename:
            package = filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
        elif "/kura_dbt/" in filename:
            package = "kura_dbt"
        else:
            package = "standard library"
        by_package[package] += own
    total = sum(by_package.values())
    print("\nclient CPU by package (cProfile tottime; the profiler itself inflates the total):")
    for package, seconds in by_package.most_common(12):
        print(f"  {package:20s} {100 * seconds / total:5.1f}%")


def pipeline_calls(
    n: int, concurrency: int, latency: float, data_dir: Path, embedder: str, batch: int
) -> None:
    import duckdb
    import numpy as np
    import pandas as pd

    from kura_dbt import pipeline
    from kura_dbt.frames import Warehouse
    from kura_dbt.settings import Settings
    from kura_dbt.taxonomy import current_embeddings_sql, discover

    pool = corpus(data_dir)[:n]
    transcripts = pd.DataFrame(
        {
            "conversation_id": [f"c{i:06d}" for i in range(len(pool))],
            "user_id": [f"u{i % 997}" for i in range(len(pool))],
            "messages_json": [
                json.dumps([{"role": r, "content": t} for r, t in turns]) for turns in pool
            ],
        }
    )
    transcripts["content_hash"] = [pipeline.text_hash(m) for m in transcripts["messages_json"]]
    process, port = start_server(latency)
    try:
        config = {
            "summariser": "openai",
            "labeller": "openai",
            "max_top_clusters": 10,
            "llm": json.dumps(
                {
                    "model": "bench-model",
                    "base_url": f"http://127.0.0.1:{port}/v1",
                    "api_key_env": "KURA_BENCH_KEY",
                    "max_concurrency": concurrency,
                }
            ),
        }
        t0 = time.perf_counter()
        summaries = summarise(transcripts, None, config)  # one build of kura__summaries
        after_summaries = stats(port)["requests"]
        embeddings = embed(
            summaries, None, {**config, "embedder": embedder, "embedding_batch_size": batch}
        )
        after_embeddings = stats(port)["requests"]
        with Warehouse(
            FakeDbt(False), duckdb.connect(), summaries=summaries, embeddings=embeddings
        ) as wh:  # the vectors the taxonomy model clusters, selected as it selects them
            current = wh.query(current_embeddings_sql(wh, Settings.from_config(config)))
        current = current.merge(summaries[["conversation_id", "summary"]], on="conversation_id")
        current = current.sort_values("conversation_id").reset_index(drop=True)
        X = np.stack([np.asarray(v, dtype=np.float32) for v in current["embedding"]])
        hierarchy = discover(
            list(current["conversation_id"]),
            X,
            list(current["summary"]),
            Settings.from_config(config),
        ).hierarchy
        total = stats(port)["requests"]
        seconds = time.perf_counter() - t0
    finally:
        process.terminate()
    levels = " / ".join(str(int(v)) for _, v in sorted(hierarchy.groupby("level").size().items()))
    print(
        f"| {n:,} | {embedder} ({batch} per request) | {after_summaries:,} "
        f"| {after_embeddings - after_summaries:,} "
        f"| {total - after_embeddings:,} | {total:,} | {total / n:.3f} | {levels} | {seconds:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument(
        "--http-client",
        nargs="+",
        default=["aiohttp"],
        choices=["aiohttp", "httpx"],
        help="openai's transport (var kura__llm_http_client)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the client's CPU by package (first run only)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per setting; the median is printed after"
    )
    parser.add_argument(
        "--pipeline",
        type=int,
        default=0,
        help="also count calls for the whole pipeline on N conversations",
    )
    parser.add_argument(
        "--embedder",
        nargs="+",
        default=["local"],
        choices=["local", "openai"],
        help="with --pipeline: embed locally or through the endpoint (var kura__embedder)",
    )
    parser.add_argument("--embedding-batch-size", type=int, default=256)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    os.environ.setdefault("KURA_BENCH_KEY", "local")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"machine: {os.cpu_count()} cores")
    if args.conversations:
        print(
            "\n| conversations | concurrency | transport | latency (s) | bound (conv/s) "
            "| measured (conv/s) | of bound | seconds | client CPU per call (ms) | max in flight "
            "| errors |"
        )
        print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        for run in range(args.repeat):
            for http_client in args.http_client:
                for concurrency in args.concurrency:
                    result = throughput(
                        args.conversations,
                        concurrency,
                        args.latency,
                        args.data_dir,
                        http_client,
                        profile=args.profile and run == 0,
                    )
                    runs.setdefault((http_client, concurrency), []).append(result)
        if args.repeat > 1 and args.latency > 0:
            import statistics

            def median(values: list[dict[str, float]], key: str) -> float:
                return statistics.median(v[key] for v in values)

            print(f"\nmedians over {args.repeat} runs:\n")
            print(
                "| conversations | concurrency | transport | latency (s) | bound (conv/s) "
                "| measured (conv/s) | of bound (median, min-max) | seconds "
                "| client CPU per call (ms) |"
            )
            print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
            for (http_client, concurrency), values in runs.items():
                shares = [v["share"] for v in values]
                print(
                    f"| {args.conversations:,} | {concurrency} | {http_client} "
                    f"| {args.latency:.2f} | {concurrency / args.latency:.0f} "
                    f"| {median(values, 'rate'):.1f} | {100 * statistics.median(shares):.0f} % "
                    f"({100 * min(shares):.0f}-{100 * max(shares):.0f}) "
                    f"| {median(values, 'seconds'):.1f} | {median(values, 'cpu_ms'):.1f} |"
                )
    if args.pipeline:
        print(
            "\n| conversations | embedder | summary calls | embedding calls "
            "| naming + hierarchy calls | total calls | calls per conversation "
            "| clusters per level | seconds |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---|---:|")
        for embedder in args.embedder:
            pipeline_calls(
                args.pipeline,
                max(args.concurrency),
                min(args.latency, 0.02),
                args.data_dir,
                embedder,
                args.embedding_batch_size,
            )


if __name__ == "__main__":
    main()
