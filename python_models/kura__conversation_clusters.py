"""Each summarised conversation's base cluster (or unclustered, for HDBSCAN noise)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from kura_dbt import pipeline
    from kura_dbt.frames import to_pandas

    config = dbt.config.get("kura_settings")  # the kura__ vars, one JSON object
    summaries = to_pandas(dbt.ref("kura__summaries"))
    embeddings = to_pandas(dbt.ref("kura__embeddings"))
    return pipeline.assign_base_clusters(summaries, embeddings, config)
