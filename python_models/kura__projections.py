"""2D map coordinates for conversations and for clusters at every level."""


def model(dbt, session):
    dbt.config(materialized="table")
    from kura_dbt import pipeline
    from kura_dbt.frames import to_pandas

    config = dbt.config.get("kura_settings")  # the kura__ vars, one JSON object
    return pipeline.project(
        to_pandas(dbt.ref("kura__summaries")),
        to_pandas(dbt.ref("kura__embeddings")),
        to_pandas(dbt.ref("kura__conversation_clusters")),
        to_pandas(dbt.ref("kura__cluster_hierarchy")),
        config,
    )
