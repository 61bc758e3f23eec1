"""Each summarised conversation's base cluster (or unclustered, for HDBSCAN noise)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from kura_dbt import pipeline
    from kura_dbt.frames import to_pandas

    config = {
        "clusterer": dbt.config.get("clusterer"),
        "n_base_clusters": dbt.config.get("n_base_clusters"),
        "hdbscan_min_cluster_size": dbt.config.get("hdbscan_min_cluster_size"),
        "seed": dbt.config.get("seed"),
    }
    summaries = to_pandas(dbt.ref("kura__summaries"))
    embeddings = to_pandas(dbt.ref("kura__embeddings"))
    return pipeline.assign_base_clusters(summaries, embeddings, config)
