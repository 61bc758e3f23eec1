{{ config(materialized='table', schema=var('kura__private_schema')) }}
{#- The pinned taxonomy in use (var kura__pinned_taxonomy): one row per category of the current
    taxonomy version, plus `other`, with its parent and level (0: the categories conversations
    are classified into; a parent is one above its highest child). Empty in discovery mode. -#}
with {{ kura.classification_state_ctes() }}

select
    state.category_id,
    state.name,
    state.description,
    state.parent_id,
    state.level,
    state.is_leaf,
    state.cluster_ids,
    state.examples,
    state.source_rows,
    state.taxonomy_version,
    state.updated_at as pinned_at
from state
inner join current_version
    on state.taxonomy_version = current_version.taxonomy_version
where state.record_type = 'category'
