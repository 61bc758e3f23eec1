"""`kura estimate`: what the next `dbt build` will send to the LLM, before it is spent.

It reads the warehouse that `dbt build` wrote (a DuckDB file, or Snowflake through a dbt
profile's target or a connection name, as `kura tree` and `kura report` do):
``int_kura__transcripts`` (the conversations as the last build saw them: run ``dbt build
--select +int_kura__transcripts`` after new data arrives, which runs SQL only) and
``kura__summaries`` (the state), and selects the pending conversations with the same SQL as the
``kura__summaries`` model (:func:`kura_dbt.pipeline.pending_summaries`): new, changed, other
model or prompt, and retries of failed rows; rows parked after ``kura__llm_max_attempts``
failures are counted apart and not sent (:mod:`kura_dbt.parking`). The privacy audit of the
same build is estimated from ``int_kura__privacy_texts`` and ``int_kura__privacy_audit``
(:mod:`kura_dbt.audit.estimate`), with the withheld cluster texts it remakes and, as an upper
bound, the cluster texts of a re-discovery (``int_kura__cluster_state``,
:mod:`kura_dbt.taxonomy.forecast`). The embedder's requests and input tokens
(``kura__embeddings``, :mod:`kura_dbt.embeddings.estimate`) are counted exactly, the LLM
labeller's calls (a re-discovery's names and CLIO grouping, the public labels,
:mod:`kura_dbt.labels.estimate`) as an upper bound. Settings come from the same
vars as the build: ``--project-dir`` reads the literal ``kura__*`` vars of a
``dbt_project.yml``, ``--vars`` (YAML, as dbt takes it) overrides them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from kura_dbt import sql
from kura_dbt.commands import (
    DEFAULT_DB,
    ConnectionOption,
    ProfileOption,
    ProfilesDirOption,
    TargetOption,
    db_option,
    marts_source,
    parse_vars,
    require_db,
)
from kura_dbt.summaries.cortex import CortexSummaries

if TYPE_CHECKING:
    import pandas as pd

console = Console()
PRIVATE = "kura_private"  # var kura__private_schema's default: the pipeline tables' schema suffix


def settings_from_vars(variables: Mapping[str, Any]) -> Any:
    """Settings from ``kura__*`` vars (as in dbt_project.yml or ``--vars``), each read as its
    declaration in :mod:`kura_dbt.settings` says; vars that only SQL reads (input relations,
    column names) and Jinja values are left out."""
    from kura_dbt.settings import Settings, all_vars

    config: dict[str, Any] = {}
    llm: dict[str, Any] = {}
    for var in all_vars():
        value = variables.get(var.name)
        if var.name not in variables or (isinstance(value, str) and "{{" in value):
            continue
        if var.reader == "settings":
            config[var.field] = value
        elif var.reader == "llm":
            llm[var.name[len("kura__llm_") :]] = value
    return Settings.from_config({**config, "llm": llm})


def check_backends(variables: Mapping[str, Any]) -> None:
    """A ``ValueError`` (one sentence, with the nearest valid name) for a backend var that
    names no backend of its stage's registry, as the build would fail on it."""
    from kura_dbt.audit import AUDITORS
    from kura_dbt.classify import CLASSIFIERS
    from kura_dbt.clustering import CLUSTERERS
    from kura_dbt.embeddings import EMBEDDERS
    from kura_dbt.labels import LABELLERS
    from kura_dbt.projection import PROJECTORS
    from kura_dbt.settings import all_vars
    from kura_dbt.summaries import SUMMARISERS

    registries = {
        f"kura__{r.kind}": r
        for r in (SUMMARISERS, EMBEDDERS, CLUSTERERS, LABELLERS, PROJECTORS, CLASSIFIERS, AUDITORS)
    }
    for var in all_vars():
        value = variables.get(var.name)
        if var.registered and var.name in registries and isinstance(value, str):
            if "{{" not in value:  # Jinja: dbt resolves it, as settings_from_vars skips it
                registries[var.name].key(value)


def project_vars(project_dir: Path | None) -> dict[str, Any]:
    """The literal vars of ``project_dir/dbt_project.yml``, global and under ``kura:``."""
    if project_dir is None:
        return {}
    path = project_dir / "dbt_project.yml"
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="--project-dir")
    raw = (yaml.safe_load(path.read_text()) or {}).get("vars") or {}
    scoped = raw.get("kura")
    if not isinstance(scoped, Mapping):
        scoped = {}
    return {**{k: v for k, v in raw.items() if k.startswith("kura__")}, **scoped}


class _ConnectionReader:
    """A :class:`kura_dbt.frames.WarehouseReader` over a DB-API connection that answers like
    DuckDB's (a DuckDB file, or :class:`kura_dbt.report.source.SnowflakeMarts`): what
    :func:`kura_dbt.pipeline.pending_summaries` reads."""

    def __init__(self, con: Any, transcripts: str, state: str | None) -> None:
        self.con, self.views, self.state = con, {"transcripts": transcripts}, state

    def query(self, sql: str) -> pd.DataFrame:
        import pandas as pd

        cursor = self.con.execute(sql)
        columns = [str(d[0]).lower() for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def _tables(con: Any, schema: str) -> dict[str, str]:
    """The tables of ``schema`` by lower-case name, each as a quoted relation of its names as
    stored (Snowflake keeps unquoted names in upper case)."""
    rows = con.execute(sql.tables_of_schema(), [schema]).fetchall()
    return {str(table).lower(): sql.relation(str(owner), str(table)) for owner, table in rows}


def estimate(
    source: Any, schema: str, settings: Any, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The estimate of the next run's summaries (see :func:`kura_dbt.pipeline.
    estimate_summaries`), with the settings' caps, the retries and the parked rows, and under
    ``privacy_audit`` that of its privacy audit (:func:`kura_dbt.audit.estimate.
    estimate_audits`). ``source``: a DuckDB file or a :class:`kura_dbt.report.source.
    MartsSource`; ``variables``: the ``kura__*`` vars (the Cortex model)."""
    from kura_dbt import pipeline
    from kura_dbt.audit.estimate import audit_request_of, estimate_audits
    from kura_dbt.budget import llm_of
    from kura_dbt.classify import CLASSIFIERS
    from kura_dbt.embeddings import EMBEDDERS
    from kura_dbt.embeddings.estimate import estimate_embeddings
    from kura_dbt.parking import RetryPolicy
    from kura_dbt.report.data import connect

    con = connect(require_db(source) if isinstance(source, Path) else source)
    try:
        tables = _tables(con, schema)
        if "int_kura__transcripts" not in tables:
            raise typer.BadParameter(
                f"{getattr(source, 'label', source)} has no {schema}.int_kura__transcripts; run "
                "`dbt build --select +int_kura__transcripts` first (or pass --private-schema)",
                param_hint="--db / --profile / --private-schema",
            )
        transcripts = tables["int_kura__transcripts"]
        warehouse = _ConnectionReader(con, transcripts, tables.get("kura__summaries"))
        snowflake = bool(getattr(source, "is_snowflake", False))
        summariser = _summariser(settings, variables or {}, snowflake)
        cortex = isinstance(summariser, CortexSummaries)
        policy = RetryPolicy.of(settings)
        todo = pipeline.pending_summaries(warehouse, summariser, policy, transcript=cortex)
        history = pipeline._completion_history(warehouse, summariser)
        result = pipeline.estimate_summaries(todo, summariser, history)
        result["conversations_in"] = int(warehouse.query(sql.count_rows(transcripts))["n"][0])
        result["parked"] = pipeline.parked_summaries(warehouse, summariser)
        auditor = audit_request_of(settings, variables or {}, snowflake)
        texts = _ConnectionReader(con, transcripts, tables.get("int_kura__privacy_audit"))
        shown = tables.get("int_kura__privacy_texts")  # a view: none before the first build
        texts.views = {"texts": shown} if shown else {}
        if "int_kura__privacy_relabels" in tables:
            texts.views["relabels"] = tables["int_kura__privacy_relabels"]
        summarised = result["calls"] if llm_of(summariser) else result["conversations"]
        cluster_state = tables.get("int_kura__cluster_state")
        taxonomy = _taxonomy(texts, cluster_state, settings, result)
        labels = _labels(
            warehouse,
            cluster_state,
            settings,
            variables or {},
            (snowflake, tables.get("int_kura__cortex_cluster_names")),
            taxonomy,
        )
        vectors = _ConnectionReader(con, transcripts, tables.get("kura__embeddings"))
        vectors.views = {"summaries": warehouse.state} if warehouse.state else {}
        embeddings = estimate_embeddings(
            vectors,
            settings,
            _backend(EMBEDDERS, settings.embedder, snowflake),
            [str(c) for c in todo["conversation_id"]],
            summarised,
            variables or {},
            # what the build embeds, with the summariser resolved as it resolves it
            dataclasses.replace(settings, summariser=summariser.name).embedded_column(),
        )
        audit = estimate_audits(
            texts,
            auditor,
            RetryPolicy.of(settings),
            summarised,
            min_score=settings.privacy_min_score,
            taxonomy=taxonomy,
        )
    finally:
        con.close()
    llm = llm_of(summariser)
    result.update(
        summariser=summariser.name,
        model=summariser.model,
        prompt_version=summariser.prompt_version,
        retries=result["by_reason"].get("failed", 0),
        completion_from_history=history is not None,
        max_calls=None if llm is None else llm.max_calls,
        max_cost_usd=None if llm is None else llm.max_cost_usd,
        privacy_audit=audit,
        labeller=labels,
        embeddings=embeddings,
        # the classifier of a pinned taxonomy as the build resolves it (None: discovery mode)
        classifier=(
            _backend(CLASSIFIERS, settings.classifier, snowflake)
            if settings.pinned_taxonomy
            else None
        ),
    )
    return result


def _taxonomy(
    reader: _ConnectionReader, state: str | None, settings: Any, summaries: Mapping[str, Any]
) -> Any:
    """Whether the build re-discovers the taxonomy (:func:`kura_dbt.taxonomy.forecast.
    forecast`), from ``int_kura__cluster_state`` (``state``) and the summaries' estimate."""
    from kura_dbt.taxonomy import state as st
    from kura_dbt.taxonomy.forecast import forecast

    last: dict[str, Any] | None = None
    has_taxonomy = False
    if state is not None:
        runs = reader.query(sql.last_run(state, st.RUN))
        last = None if runs.empty else runs.iloc[0].to_dict()
        has_taxonomy = not reader.query(
            sql.current_clusters(state, ["cluster_id"], st.CLUSTER)
        ).empty
    added = int(summaries["by_reason"].get("new", 0))
    return forecast(settings, last, has_taxonomy, int(summaries["conversations"]), added)


def _summariser(settings: Any, variables: Mapping[str, Any], snowflake: bool) -> Any:
    """The summariser as the build resolves var ``kura__summariser``: the Python backend, or
    for ``cortex`` (``auto`` on Snowflake) what models/cortex/kura__summaries.sql sends."""
    from kura_dbt.audit.estimate import CORTEX_MODEL
    from kura_dbt.summaries import SUMMARISERS

    if _backend(SUMMARISERS, settings.summariser, snowflake) == "cortex":
        model = str(variables.get("kura__cortex_model") or CORTEX_MODEL)
        return CortexSummaries(model, settings.llm_settings(), settings.extra_facets)
    return SUMMARISERS.build(settings.summariser, settings)


def _backend(registry: Any, name: str, snowflake: bool) -> str:
    """The backend a ``kura__*`` var names as the build resolves it: ``auto`` is ``cortex`` on
    Snowflake, else ``local`` (macros/cortex/backends.sql)."""
    if str(name).strip().lower() == "auto":
        return "cortex" if snowflake else "local"
    return str(registry.key(name))


def _labels(
    reader: _ConnectionReader,
    state: str | None,
    settings: Any,
    variables: Mapping[str, Any],
    target: tuple[bool, str | None],
    taxonomy: Any,
) -> dict[str, Any]:
    """The labeller's part (:func:`kura_dbt.labels.estimate.estimate_labels`), with the
    current parents, the mean summary and the completion tokens of the names stored before
    (Cortex's in ``int_kura__cortex_cluster_names``). ``target``: whether it is Snowflake, and
    that table if there is one."""
    from kura_dbt.audit.estimate import CORTEX_MODEL
    from kura_dbt.labels import LABELLERS
    from kura_dbt.labels.estimate import estimate_labels
    from kura_dbt.taxonomy import state as st

    snowflake, cortex_names = target
    name = _backend(LABELLERS, settings.labeller, snowflake)
    parents, history = 0, None
    if state is not None:
        levels = reader.query(sql.current_clusters(state, ["level"], st.CLUSTER))["level"]
        parents = int((levels.astype(int) > 0).sum())
        mean = reader.query(sql.label_completion_per_call(state, st.CLUSTER, name))["mean"][0]
        history = None if mean is None or mean != mean else float(mean)
    if name == "cortex" and cortex_names is not None:
        mean = reader.query(sql.cortex_name_completion_per_call(cortex_names))["mean"][0]
        history = None if mean is None or mean != mean else float(mean)
    chars = None
    if reader.state is not None:
        mean = reader.query(sql.mean_summary_length(reader.state))["mean"][0]
        chars = None if mean is None or mean != mean else float(mean)
    model = str(variables.get("kura__cortex_model") or CORTEX_MODEL)
    return estimate_labels(name, settings, taxonomy, parents, chars, history, model)


def register(app: typer.Typer) -> None:
    @app.command("estimate")
    def estimate_command(
        db: Annotated[Path, db_option("DuckDB file that `dbt build` wrote")] = DEFAULT_DB,
        private_schema: Annotated[
            str | None,
            typer.Option(
                help="Schema of the pipeline tables int_kura__transcripts and kura__summaries "
                "(default: <the target's schema>_kura_private, e.g. main_kura_private)"
            ),
        ] = None,
        old_schema: Annotated[
            str | None, typer.Option("--schema", hidden=True, help="Deprecated: --private-schema")
        ] = None,
        project_dir: Annotated[
            Path | None, typer.Option(help="Read the kura__ vars of this dbt project")
        ] = None,
        vars: Annotated[
            str | None, typer.Option("--vars", help="kura__ vars as YAML, as `dbt --vars`")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON")] = False,
        profile: ProfileOption = None,
        target: TargetOption = None,
        profiles_dir: ProfilesDirOption = None,
        connection: ConnectionOption = None,
    ) -> None:
        """Estimate what the next `dbt build` will send to the LLM summariser, the privacy
        auditor, the embedder and the labeller: conversations and texts pending (retries of
        failed rows included, parked rows apart), calls, tokens and cost at the configured
        prices, from a DuckDB file or from Snowflake (--profile / --target or --connection).
        The embedder's requests are exact (texts pending and the new summaries, in batches).
        The cluster texts of a re-discovery, those the build may withhold and remake, and all
        of the labeller's calls (names, CLIO grouping and public labels) are an upper bound
        ('at most'): the clusters do not exist before the build. Nothing is sent."""
        schema = _private_schema(private_schema, old_schema)
        variables = project_vars(project_dir)
        if vars:
            variables.update(parse_vars(vars))
        source = marts_source(db, profile, target, profiles_dir, connection)
        if schema is None:
            if not source.default_schema:
                raise typer.BadParameter(
                    "a connection name has no target schema: pass --private-schema",
                    param_hint="--private-schema",
                )
            schema = f"{source.default_schema}_{variables.get('kura__private_schema', PRIVATE)}"
        try:
            settings = settings_from_vars(variables)
            check_backends(variables)
        except (ValueError, TypeError) as exc:  # a var's type, range, allowed values, backend
            raise typer.BadParameter(str(exc), param_hint="--vars / --project-dir") from None
        result = estimate(source, schema, settings, variables)
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=str))
            return
        _print(result)


def _private_schema(private_schema: str | None, old_schema: str | None) -> str | None:
    """``--private-schema``, or the deprecated ``--schema`` it replaced (the same schema, named
    as ``kura taxonomy export`` names it; ``--schema`` is the marts' schema elsewhere)."""
    if old_schema is None:
        return private_schema
    if private_schema is not None and private_schema != old_schema:
        raise typer.BadParameter(
            "pass only --private-schema (--schema is its deprecated old name)",
            param_hint="--schema",
        )
    typer.echo(
        "kura: `kura estimate --schema` is deprecated: pass --private-schema (the same schema)",
        err=True,
    )
    return old_schema


def _print(result: dict[str, Any]) -> None:
    table = _table(f"Next run of kura__summaries ({result['summariser']}, {result['model']})")
    table.add_row("conversations in", f"{result['conversations_in']:,}")
    table.add_row("conversations pending", f"{result['conversations']:,}")
    for reason, n in sorted(result["by_reason"].items()):
        label = "failed (retries)" if reason == "failed" else reason
        table.add_row(f"  {label}", f"{n:,}")
    table.add_row(
        "parked (not sent)",
        f"{result['parked']:,}"
        + (" (kura__llm_retry_gave_up: true sends them)" if result["parked"] else ""),
    )
    _spend_rows(table, result)
    console.print(table)
    caps = [
        f"{name} = {result[key]}"
        for name, key in (
            ("kura__llm_max_calls", "max_calls"),
            ("kura__llm_max_cost_usd", "max_cost_usd"),
        )
        if result.get(key) is not None
    ]
    if caps:
        console.print("Budget cap: " + ", ".join(caps) + " per run; the rest stays pending.")
    if result.get("privacy_audit"):
        _print_audit(result["privacy_audit"])
    if result.get("embeddings"):
        _print_embeddings(result["embeddings"])
    if result.get("labeller"):
        _print_labels(result["labeller"])
    if result.get("classifier") == "cortex":
        console.print(
            "Cortex classifies into the pinned taxonomy in SQL (int_kura__cortex_classifications, "
            "AI_CLASSIFY, one call per level for each new text): not estimated here; its calls "
            "and estimated tokens are in kura__llm_usage (stage classification)."
        )


def _print_embeddings(vectors: dict[str, Any]) -> None:
    """The embedder's part: one request per batch of texts (none for the local embedder)."""
    table = _table(f"Next run of kura__embeddings ({vectors['embedder']}, {vectors['model']})")
    table.add_row("texts pending now", f"{vectors['texts']:,}")
    table.add_row("texts of the new summaries", f"{vectors['new_summary_texts']:,}")
    table.add_row("requests", f"{vectors['calls']:,}")
    source = "earlier texts" if vectors["tokens_from_history"] else "default for new texts"
    table.add_row("input tokens", f"{vectors['prompt_tokens']:,} ({source})")
    cost = vectors["cost_usd"]
    table.add_row(
        "cost (USD)",
        "unknown: set kura__llm_embedding_cost_per_mtok" if cost is None else f"${cost:,.4f}",
    )
    console.print(table)
    if vectors["embedder"] == "cortex":
        console.print("Cortex: one AI_EMBED call per text, in SQL on Snowflake.")


def _print_labels(labels: dict[str, Any]) -> None:
    """The labeller's part: all of it an upper bound (a discovery's clusters do not exist
    before the build)."""
    table = _table(f"Next run of the cluster names ({labels['labeller']}, {labels['model']})")
    table.add_row("re-discovery", labels["rediscover"])
    table.add_row("  cluster names (at most)", f"{labels['names_at_most']:,}")
    table.add_row("  grouping calls (at most)", f"{labels['grouping_calls_at_most']:,}")
    table.add_row("  public labels (at most)", f"{labels['public_labels_at_most']:,}")
    _spend_rows(table, labels, at_most=True)
    console.print(table)
    if labels["labeller"] == "cortex":
        console.print(
            "Cortex names clusters in SQL (int_kura__cortex_cluster_names): tokens from the "
            "prompts it builds and the answer's schema."
        )


def _print_audit(audit: dict[str, Any]) -> None:
    """The privacy audit's part: one call per distinct text (none for the local auditor)."""
    table = _table(f"Next run of int_kura__privacy_audit ({audit['auditor']}, {audit['model']})")
    table.add_row("texts pending now", f"{audit['texts']:,}")
    table.add_row("  failed (retries)", f"{audit['retries']:,}")
    table.add_row("texts of the new summaries", f"{audit['new_summary_texts']:,}")
    table.add_row(
        "parked (withheld, not sent)",
        f"{audit['parked']:,}"
        + (" (kura__llm_retry_gave_up: true sends them)" if audit["parked"] else ""),
    )
    table.add_row("withheld cluster texts remade", f"{audit['relabels']:,}")
    _spend_rows(table, audit)
    if audit["calls_at_most"] > audit["calls"] or audit["rediscover"] != "no":
        _at_most_rows(table, audit)
    console.print(table)
    if audit["rediscover"] != "no":
        console.print(
            f"Re-discovery: {audit['rediscover']} ({audit['rediscover_reason']}). Its cluster "
            "names do not exist yet: the rows marked 'at most' are an upper bound."
        )


def _at_most_rows(table: Table, audit: dict[str, Any]) -> None:
    """The upper bound: cluster texts a re-discovery may write and the auditor may withhold
    (then remade and audited again), on top of what is certain."""
    table.add_row("re-discovery", audit["rediscover"])
    table.add_row("  new cluster texts (at most)", f"{audit['new_cluster_texts_at_most']:,}")
    table.add_row("  cluster texts remade (at most)", f"{audit['relabels_at_most']:,}")
    _spend_rows(table, audit, at_most=True)


def _table(title: str) -> Table:
    """One stage's table: what, and its estimate."""
    table = Table(title=title)
    table.add_column("what")
    table.add_column("estimate", justify="right")
    return table


def _spend_rows(table: Table, result: dict[str, Any], at_most: bool = False) -> None:
    """The rows every stage's table ends with: calls, tokens and cost (``at_most``: the upper
    bound's keys, ``calls_at_most``, ..., and rows)."""
    key, bound = ("_at_most", " (at most)") if at_most else ("", "")
    table.add_row(f"LLM calls{bound}", f"{result['calls' + key]:,}")
    table.add_row(f"prompt tokens{bound}", f"{result['prompt_tokens' + key]:,}")
    per = result["completion_per_call"]
    source = "earlier runs" if result["completion_from_history"] else "default"
    table.add_row(
        f"completion tokens{bound}",
        f"{result['completion_tokens' + key]:,}"
        + ("" if per is None else f" ({per:.0f} per call, {source})"),
    )
    cost = result["cost_usd" + key]
    unknown = "unknown: set kura__llm_input/output_cost_per_mtok"
    table.add_row(
        f"cost (USD{', at most' if at_most else ''})", unknown if cost is None else f"${cost:,.4f}"
    )
