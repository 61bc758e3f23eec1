{#- The statistics behind kura__alerts, as plain SQL expressions (sqrt, exp, abs only), so that
    they run on any warehouse. Every test compares this week with the trailing baseline weeks:

    - two_proportion_z: x of n this week against b of m in the baseline (a share: a cluster's
      conversations among the week's clustered conversations, the unassigned among the assessed
      ones). The pooled two-proportion z-test, i.e. the normal approximation of the binomial
      test of this week's share against the baseline share, with the variance estimated under
      the null (both samples pooled), so that it counts the baseline's own noise as well.
    - one_proportion_z: x of n against a known share p0 (the binomial score test).
    - mean_shift_z: a facet's mean this week (n1 values, sum s1, sum of squares ss1) against the
      baseline's (n0, s0, ss0), the variance again pooled over both samples under the null; for
      a 0/1 value it is two_proportion_z.
    - normal_upper_tail: P(Z >= |z|) for a standard normal Z (Abramowitz and Stegun 26.2.17,
      absolute error below 1e-7): the one-sided p-value of |z|.

    Each is NULL when it is undefined (no data, no variance). All are computed in double
    precision (dbt.type_float() is FLOAT, four bytes, on DuckDB: a sum of squares minus a
    squared sum loses every digit there). -#}

{% macro two_proportion_z(x, n, b, m, float_type=none) -%}
    {#- float_type: the type computed in (default double) -#}
    {%- set float_type = float_type or 'double' %}
    (
        (cast({{ x }} as {{ float_type }}) / nullif({{ n }}, 0)
            - cast({{ b }} as {{ float_type }}) / nullif({{ m }}, 0))
        / nullif(sqrt(
            (cast({{ x }} + {{ b }} as {{ float_type }}) / nullif({{ n }} + {{ m }}, 0))
            * (1 - cast({{ x }} + {{ b }} as {{ float_type }}) / nullif({{ n }} + {{ m }}, 0))
            * (1.0 / nullif({{ n }}, 0) + 1.0 / nullif({{ m }}, 0))
        ), 0)
    )
{%- endmacro %}

{% macro one_proportion_z(x, n, p0) -%}
    (
        (cast({{ x }} as double) - {{ n }} * {{ p0 }})
        / nullif(sqrt({{ n }} * {{ p0 }} * (1 - {{ p0 }})), 0)
    )
{%- endmacro %}

{% macro mean_shift_z(n1, s1, ss1, n0, s0, ss0) -%}
    (
        (cast({{ s1 }} as double) / nullif({{ n1 }}, 0)
            - cast({{ s0 }} as double) / nullif({{ n0 }}, 0))
        / nullif(sqrt(
            greatest(
                (cast({{ ss1 }} + {{ ss0 }} as double)
                    - cast({{ s1 }} + {{ s0 }} as double)
                    * ({{ s1 }} + {{ s0 }}) / nullif({{ n1 }} + {{ n0 }}, 0))
                / nullif({{ n1 }} + {{ n0 }} - 1, 0),
                0
            )
            * (1.0 / nullif({{ n1 }}, 0) + 1.0 / nullif({{ n0 }}, 0))
        ), 0)
    )
{%- endmacro %}

{% macro normal_upper_tail(z) -%}
    (
        exp(-0.5 * ({{ z }}) * ({{ z }})) * 0.3989422804014327
        * (1.0 / (1 + 0.2316419 * abs({{ z }})))
        * (0.319381530 + (1.0 / (1 + 0.2316419 * abs({{ z }})))
        * (-0.356563782 + (1.0 / (1 + 0.2316419 * abs({{ z }})))
        * (1.781477937 + (1.0 / (1 + 0.2316419 * abs({{ z }})))
        * (-1.821255978 + (1.0 / (1 + 0.2316419 * abs({{ z }}))) * 1.330274429))))
    )
{%- endmacro %}
