{{ config(materialized='table') }}
{#- Each embedded conversation's category under the pinned taxonomy (var kura__pinned_taxonomy):
    `labelled` (a member of a discovered cluster that the taxonomy file maps to the category),
    `classified` (by the classifier, var kura__classifier), `other` (no category fits: the
    classifier abstained or answered other) or `error` (the call failed; classified again on
    the next build). Empty in discovery mode. -#}
with {{ kura.classification_state_ctes() }}

select
    state.conversation_id,
    state.category_id,
    state.status,
    cast(state.confidence as double) as confidence,
    state.nearest_category_id,
    state.note,
    state.discovered_cluster_id,
    state.classifier,
    state.classifier_model,
    state.taxonomy_version,
    state.error,
    cast(state.updated_at as {{ dbt.type_timestamp() }}) as classified_at
from state
inner join current_version
    on state.taxonomy_version = current_version.taxonomy_version
inner join {{ ref('kura__embeddings') }} as embeddings
    on state.conversation_id = embeddings.conversation_id
    and state.text_hash = embeddings.text_hash
    and state.embedding_model = embeddings.model
where state.record_type = 'conversation'
