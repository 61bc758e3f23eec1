"""All clusters, base to top level, with parents, names, descriptions, sizes and users."""


def model(dbt, session):
    dbt.config(materialized="table")
    from kura_dbt import pipeline
    from kura_dbt.frames import read_existing, to_pandas

    config = dbt.config.get("kura_settings")  # the kura__ vars, one JSON object
    return pipeline.cluster_hierarchy(
        to_pandas(dbt.ref("kura__conversation_clusters")),
        to_pandas(dbt.ref("kura__summaries")),
        to_pandas(dbt.ref("kura__embeddings")),
        to_pandas(dbt.ref("int_kura__transcripts")),
        config,
        read_existing(dbt, session, pipeline.HIERARCHY_CACHE_COLUMNS),
    )
