"""An embedding of each conversation's summary. Incremental: only summaries whose text or
embedding model changed, or whose embedding failed last time, are embedded again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import pipeline
    from kura_dbt.frames import read_previous, to_pandas

    # literal dbt.config.get calls: dbt finds the configs a Python model uses by reading them
    config = {
        "embedder": dbt.config.get("embedder"),
        "embedding_batch_size": dbt.config.get("embedding_batch_size"),
        "embedding_model": dbt.config.get("embedding_model"),
        "embedding_dimensions": dbt.config.get("embedding_dimensions"),
        "llm": dbt.config.get("llm"),
    }
    summaries = to_pandas(dbt.ref("kura__summaries"))
    previous = read_previous(dbt, session, pipeline.EMBEDDING_STATE_COLUMNS)
    return pipeline.embed(summaries, previous, config)
