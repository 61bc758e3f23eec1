"""One structured summary per conversation. Incremental: only new or changed conversations,
or those that failed last time, or were summarised by another backend / model / prompt
version, are summarised again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import pipeline
    from kura_dbt.frames import Warehouse

    config = dbt.config.get("kura_settings")  # the kura__ vars, one JSON object
    with Warehouse(dbt, session, transcripts=dbt.ref("int_kura__transcripts")) as warehouse:
        summaries = pipeline.summarise_new(warehouse, config)
    return summaries
