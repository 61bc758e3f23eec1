{#- The significance of a facet value's over-representation in a cluster (kura__cluster_facets),
    as plain SQL expressions (ln, exp only), so that they run on any warehouse:

    - ln_factorial(k): ln(k!) by Stirling's series with three correction terms
      (k ln k - k + ln(2 pi k) / 2 + 1/(12k) - 1/(360k^3) + 1/(1260k^5)), exact 0 for k <= 1;
      its error is below 1e-5 from k = 2 on and shrinks as 1/k^7. (DuckDB has lgamma, but
      Snowflake's numeric functions have no log-gamma and FACTORIAL only up to 33:
      https://docs.snowflake.com/en/sql-reference/functions-numeric, hence the series.)
    - hypergeometric_upper_tail(x, n, k, total): P(X >= x) for X the number of conversations
      with a value among n drawn at random, without replacement, from `total` of which k have
      it: the chance that a cluster of n holds at least x of the value if clusters ignored it.
      The tail is pmf(x) * (1 + r(x) + r(x) r(x+1) + ...) with r(j) = pmf(j+1) / pmf(j)
      = (k - j)(n - j) / ((j + 1)(total - k - n + j + 1)), which falls as j grows; so it is at
      most pmf(x) / (1 - r(x)) once r(x) < 1 (x at or past the mode), and exactly pmf(x) when
      x = min(n, k). That bound is what is returned (capped at 1; 1 below the mode): a p-value
      that never claims more than the data show, exact at the extreme and tight in the far
      tail, which is where significance is decided. Unlike a normal approximation it holds
      for small counts (a value in 1 of 500 conversations found once in a cluster of 42:
      42/500 = 0.084, not the z-test's 0.001). -#}

{% macro ln_factorial(k) -%}
    {#- k as a double (DuckDB's FLOAT, dbt.type_float(), is single precision: too coarse here) -#}
    {%- set d = 'cast((' ~ k ~ ') as double precision)' -%}
    (case when ({{ k }}) <= 1 then 0.0 else
        {{ d }} * ln({{ d }}) - {{ d }}
        + 0.5 * ln(6.283185307179586 * {{ d }})
        + 1.0 / (12.0 * {{ d }})
        - 1.0 / (360.0 * {{ d }} * {{ d }} * {{ d }})
        + 1.0 / (1260.0 * {{ d }} * {{ d }} * {{ d }} * {{ d }} * {{ d }})
    end)
{%- endmacro %}

{% macro hypergeometric_upper_tail(x, n, k, total) -%}
    {%- set ratio -%}
        (cast(({{ k }}) - ({{ x }}) as double precision) * (({{ n }}) - ({{ x }}))
            / ((({{ x }}) + 1) * (({{ total }}) - ({{ k }}) - ({{ n }}) + ({{ x }}) + 1)))
    {%- endset -%}
    {%- set pmf -%}
        exp(
            {{ kura.ln_factorial(k) }} - {{ kura.ln_factorial(x) }} - {{ kura.ln_factorial('(' ~ k ~ ') - (' ~ x ~ ')') }}
            + {{ kura.ln_factorial('(' ~ total ~ ') - (' ~ k ~ ')') }} - {{ kura.ln_factorial('(' ~ n ~ ') - (' ~ x ~ ')') }}
            - {{ kura.ln_factorial('(' ~ total ~ ') - (' ~ k ~ ') - (' ~ n ~ ') + (' ~ x ~ ')') }}
            - {{ kura.ln_factorial(total) }} + {{ kura.ln_factorial(n) }} + {{ kura.ln_factorial('(' ~ total ~ ') - (' ~ n ~ ')') }}
        )
    {%- endset -%}
    (case
        when ({{ x }}) >= ({{ n }}) or ({{ x }}) >= ({{ k }}) then {{ pmf }}
        when {{ ratio }} >= 1 then 1.0
        when {{ pmf }} / (1 - {{ ratio }}) > 1 then 1.0
        else {{ pmf }} / (1 - {{ ratio }})
    end)
{%- endmacro %}
