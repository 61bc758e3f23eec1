"""One structured summary per conversation. Incremental: only new or changed conversations,
or those that failed last time, or were summarised by another backend / model / prompt
version, are summarised again."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="conversation_id")
    from kura_dbt import pipeline
    from kura_dbt.frames import read_previous, to_pandas

    config = {
        "summariser": dbt.config.get("summariser"),
        "summariser_max_chars": dbt.config.get("summariser_max_chars"),
        "extra_facets": dbt.config.get("extra_facets"),
        "llm_model": dbt.config.get("llm_model"),
        "llm_base_url": dbt.config.get("llm_base_url"),
        "llm_api_key_env": dbt.config.get("llm_api_key_env"),
        "llm_max_concurrency": dbt.config.get("llm_max_concurrency"),
        "llm_temperature": dbt.config.get("llm_temperature"),
        "llm_max_transcript_tokens": dbt.config.get("llm_max_transcript_tokens"),
        "llm_timeout_s": dbt.config.get("llm_timeout_s"),
        "llm_max_retries": dbt.config.get("llm_max_retries"),
        "llm_mode": dbt.config.get("llm_mode"),
        "llm_input_cost_per_mtok": dbt.config.get("llm_input_cost_per_mtok"),
        "llm_output_cost_per_mtok": dbt.config.get("llm_output_cost_per_mtok"),
    }
    transcripts = to_pandas(dbt.ref("int_kura__transcripts"))
    previous = read_previous(dbt, session, pipeline.SUMMARY_STATE_COLUMNS)
    return pipeline.summarise(transcripts, previous, config)
