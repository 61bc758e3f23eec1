"""A privacy score (CLIO's 1-5 scale) for every distinct text the marts, the tree or the report
may show. Incremental, keyed by the text's hash: a text is audited once per auditor, model and
prompt version; one that failed is audited again on the next run. See kura_dbt.audit."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="text_hash")
    from kura_dbt import frames, pipeline
    from kura_dbt.frames import Warehouse

    # meta: kura_settings (the kura__ vars, one JSON object) and kura_version (the handshake)
    config = frames.settings_of(dbt.config.get("meta"))
    with Warehouse(dbt, session, texts=dbt.ref("int_kura__privacy_texts")) as warehouse:
        scores = pipeline.audit_new(warehouse, config)
    return frames.to_output(scores, session)  # Snowpark: upper-case columns
