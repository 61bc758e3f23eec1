"""Each conversation's position on the 2D map. Incremental: points never move once placed; new
conversations are placed from their nearest neighbours in embedding space. The map is fitted
(UMAP) only on the first build or when the projector or the embedding model changes."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import pipeline
    from kura_dbt.frames import Warehouse

    config = dbt.config.get("kura_settings")  # the kura__ vars, one JSON object
    with Warehouse(dbt, session, embeddings=dbt.ref("kura__embeddings")) as warehouse:
        points = pipeline.map_points(warehouse, config)
    return points
