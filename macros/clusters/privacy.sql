{#- Whether a cluster (or pinned category) of `size` conversations from `distinct_users` users
    may show its name: it meets the thresholds (vars kura__min_cluster_users,
    kura__min_cluster_conversations), or it has no member at all (a pinned category nobody's
    conversation is in yet: nothing about anyone to reveal, so it shows by name with 0). -#}
{% macro meets_privacy_threshold(size, distinct_users) -%}
    ({{ size }} = 0
        or ({{ distinct_users }} >= {{ var('kura__min_cluster_users') }}
            and {{ size }} >= {{ var('kura__min_cluster_conversations') }}))
{%- endmacro %}
