"""An embedding of each conversation's summary. Incremental: only summaries whose text or
embedding model changed, or whose embedding failed last time, are embedded again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import frames, pipeline
    from kura_dbt.frames import Warehouse

    # meta: kura_settings (the kura__ vars, one JSON object) and kura_version (the handshake)
    config = frames.settings_of(dbt.config.get("meta"))
    with Warehouse(dbt, session, summaries=dbt.ref("kura__summaries")) as warehouse:
        embeddings = pipeline.embed_new(warehouse, config)
    return frames.to_output(embeddings, session)  # Snowpark: upper-case columns
