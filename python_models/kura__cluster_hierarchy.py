"""All clusters, base to top level, with parents, names, descriptions, sizes and users."""


def model(dbt, session):
    dbt.config(materialized="table")
    from kura_dbt import pipeline
    from kura_dbt.frames import read_existing, to_pandas

    config = {
        "labeller": dbt.config.get("labeller"),
        "label_quotes_example": dbt.config.get("label_quotes_example"),
        "llm": dbt.config.get("llm"),
        "max_top_clusters": dbt.config.get("max_top_clusters"),
        "hierarchy_branching": dbt.config.get("hierarchy_branching"),
    }
    return pipeline.cluster_hierarchy(
        to_pandas(dbt.ref("kura__conversation_clusters")),
        to_pandas(dbt.ref("kura__summaries")),
        to_pandas(dbt.ref("kura__embeddings")),
        to_pandas(dbt.ref("int_kura__transcripts")),
        config,
        read_existing(dbt, session, pipeline.HIERARCHY_CACHE_COLUMNS),
    )
