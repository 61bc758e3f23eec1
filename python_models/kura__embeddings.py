"""An embedding of each conversation's summary. Incremental: only summaries whose text or
embedding model changed, or whose embedding failed last time, are embedded again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import pipeline
    from kura_dbt.frames import read_previous, to_pandas

    config = dbt.config.get("kura_settings")  # the kura__ vars, one JSON object
    summaries = to_pandas(dbt.ref("kura__summaries"))
    previous = read_previous(dbt, session, pipeline.EMBEDDING_STATE_COLUMNS)
    return pipeline.embed(summaries, previous, config)
