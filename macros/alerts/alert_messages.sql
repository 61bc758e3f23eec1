{#- The words of kura__alerts: one line per alert that says what happened, with the numbers and
    the test. -#}

{#- A number as text for an alert's message, rounded to `digits` decimals. -#}
{% macro alert_text(value, digits=1) -%}
    coalesce(cast(round(cast({{ value }} as {{ dbt.type_numeric() }}), {{ digits }}) as {{ dbt.type_string() }}), '?')
{%- endmacro %}

{#- A share as a percentage for an alert's message: 0.1234 -> '12.3%'. -#}
{% macro alert_percent(value) -%}
    {{ kura.alert_text('100 * ' ~ value, 1) }} || '%'
{%- endmacro %}

{#- The p-value as text: 'p < 0.001' or 'p = 0.004'. -#}
{% macro alert_p_text(p) -%}
    case when {{ p }} < 0.001 then 'p < 0.001' else 'p = ' || {{ kura.alert_text(p, 3) }} end
{%- endmacro %}

{#- A facet as the message names it. -#}
{% macro alert_facet_label(facet) -%}
    case {{ facet }}
        when 'user_frustration' then 'user frustration (1-5)'
        when 'concerning_score' then 'concerning score (1-5)'
        when 'thumbs_up_rate' then 'thumbs-up rate'
        when 'avg_rating' then 'rating'
    end
{%- endmacro %}

{#- The message of an alert row of kura__alerts, from its columns alert_type, observed,
    expected, observed_share, expected_share, week_conversations, baseline_conversations, z,
    p_value, from_baseline, epoch and discovery_reason, and three words the mart adds: who (the
    cluster as '<scope> cluster "<display name>" (<id>)'), week_text (the week's Monday) and
    facet_label (alert_facet_label). -#}
{% macro alert_message(baseline_weeks) -%}
    {%- set string_type = dbt.type_string() -%}
    case
        when alert_type in ('cluster_surge', 'cluster_collapse') then
            case when alert_type = 'cluster_surge' then 'Surge in ' else 'Collapse of ' end
            || who || ': ' || {{ kura.alert_text('observed', 0) }} || ' of '
            || cast(week_conversations as {{ string_type }}) || ' clustered conversations ('
            || {{ kura.alert_percent('observed_share') }} || ') in the week of ' || week_text
            || ', expected ' || {{ kura.alert_text('expected') }} || ' ('
            || {{ kura.alert_percent('expected_share') }} || ') from the '
            || '{{ baseline_weeks }} weeks before; z = ' || {{ kura.alert_text('z') }} || ', '
            || {{ kura.alert_p_text('p_value') }}
        when alert_type = 'unassigned_share_rising' then
            'Unassigned share rising: ' || {{ kura.alert_text('observed', 0) }} || ' of the '
            || cast(week_conversations as {{ string_type }})
            || ' conversations of the week of ' || week_text
            || ' checked against the taxonomy fit no cluster (' || {{ kura.alert_percent('observed_share') }} || '), expected '
            || {{ kura.alert_text('expected') }} || ' (' || {{ kura.alert_percent('expected_share') }}
            || case
                when from_baseline then ', the {{ baseline_weeks }} weeks before'
                else ', the nominal 1 - kura__assign_radius_quantile'
            end
            || '); z = ' || {{ kura.alert_text('z') }} || ', ' || {{ kura.alert_p_text('p_value') }}
            || ': new kinds of conversations, consider a re-discovery (kura__rediscover: always)'
        when alert_type = 'facet_shift' then
            'Facet shift in ' || who || ': average ' || facet_label
            || case when z > 0 then ' rose to ' else ' fell to ' end
            || {{ kura.alert_text('observed', 2) }} || ' in the week of ' || week_text || ' ('
            || cast(week_conversations as {{ string_type }}) || ' conversations), from '
            || {{ kura.alert_text('expected', 2) }} || ' over the {{ baseline_weeks }} weeks before ('
            || cast(baseline_conversations as {{ string_type }}) || '); z = '
            || {{ kura.alert_text('z') }} || ', ' || {{ kura.alert_p_text('p_value') }}
        else
            'New ' || who || ' found at re-discovery ' || cast(epoch as {{ string_type }})
            || ' in the week of ' || week_text
            || coalesce(' (' || discovery_reason || ')', '') || ': '
            || {{ kura.alert_text('observed', 0) }} || ' conversations now'
    end
{%- endmacro %}
