"""Classification into the pinned taxonomy (var kura__pinned_taxonomy; empty in discovery
mode): each conversation's category or `other`, the taxonomy's categories, example vectors, held-out
quality and one row per build. Incremental: a conversation is classified once per taxonomy
version; a changed taxonomy file (a new content hash) reclassifies. See kura_dbt.classify."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="state_key")
    from kura_dbt import frames, pipeline
    from kura_dbt.frames import Warehouse

    # meta: kura_settings (the kura__ vars, one JSON object) and kura_version (the handshake)
    config = frames.settings_of(dbt.config.get("meta"))
    with Warehouse(
        dbt,
        session,
        taxonomy=dbt.ref("stg_kura__taxonomy"),
        embeddings=dbt.ref("kura__embeddings"),
        summaries=dbt.ref("kura__summaries"),
        cluster_state=dbt.ref("int_kura__cluster_state"),
        cortex_classifications=dbt.ref("int_kura__cortex_classifications"),  # AI_CLASSIFY
    ) as warehouse:
        state = pipeline.classification_state(warehouse, config)
    return frames.to_output(state, session)  # Snowpark: upper-case columns
