"""An embedding of each conversation's summary. Incremental: only summaries whose text or
embedding model changed, or whose embedding failed last time, are embedded again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import pipeline
    from kura_dbt.frames import Warehouse

    config = dbt.config.get("kura_settings")  # the kura__ vars, one JSON object
    with Warehouse(dbt, session, summaries=dbt.ref("kura__summaries")) as warehouse:
        embeddings = pipeline.embed_new(warehouse, config)
    return embeddings
