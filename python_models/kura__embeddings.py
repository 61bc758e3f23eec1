"""An embedding of each conversation's summary. Incremental: only summaries whose text or
embedding model changed are embedded again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import pipeline
    from kura_dbt.frames import read_previous, to_pandas

    config = {
        "embedder": dbt.config.get("embedder"),
        "embedding_batch_size": dbt.config.get("embedding_batch_size"),
    }
    summaries = to_pandas(dbt.ref("kura__summaries"))
    previous = read_previous(dbt, session, pipeline.EMBEDDING_STATE_COLUMNS)
    return pipeline.embed(summaries, previous, config)
