"""Each conversation's position on the 2D map. Incremental: points never move once placed; new
conversations are placed from their nearest neighbours in embedding space. The map is fitted
(UMAP) only on the first build or when the projector or the embedding model changes."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import frames, pipeline
    from kura_dbt.frames import Warehouse

    # meta: kura_settings (the kura__ vars, one JSON object) and kura_version (the handshake)
    config = frames.settings_of(dbt.config.get("meta"))
    with Warehouse(dbt, session, embeddings=dbt.ref("kura__embeddings")) as warehouse:
        points = pipeline.map_points(warehouse, config)
    return frames.to_output(points, session)  # Snowpark: upper-case columns
