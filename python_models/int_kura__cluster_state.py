"""The clustering state that survives builds: assignments, the taxonomy (every level, with
centroids and radii), one row per run with its decision, and lineage. Incremental: an ordinary
build reads only the conversations whose embedding is new or changed, assigns them to the
existing clusters and appends one run row; a re-discovery rewrites the assignments and the
taxonomy, keeping ids and names where clusters survive. See kura_dbt.taxonomy."""


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="state_key")
    from kura_dbt import frames, pipeline
    from kura_dbt.frames import Warehouse

    # meta: kura_settings (the kura__ vars, one JSON object) and kura_version (the handshake)
    config = frames.settings_of(dbt.config.get("meta"))
    with Warehouse(
        dbt,
        session,
        embeddings=dbt.ref("kura__embeddings"),
        summaries=dbt.ref("kura__summaries"),
        conversations=dbt.ref("stg_kura__conversations"),  # users: the privacy thresholds
    ) as warehouse:
        state = pipeline.cluster_state(warehouse, config)
    return frames.to_output(state, session)  # Snowpark: upper-case columns
