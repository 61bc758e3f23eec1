"""One structured summary per conversation. Incremental: only new or changed conversations,
or those that failed last time, or were summarised by another backend / model / prompt
version, are summarised again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import frames, pipeline
    from kura_dbt.frames import Warehouse

    # meta: kura_settings (the kura__ vars, one JSON object) and kura_version (the handshake)
    config = frames.settings_of(dbt.config.get("meta"))
    with Warehouse(dbt, session, transcripts=dbt.ref("int_kura__transcripts")) as warehouse:
        summaries = pipeline.summarise_new(warehouse, config)
    return frames.to_output(summaries, session)  # Snowpark: upper-case columns
